// tokex on Azure Functions (Flex Consumption), deployed with `azd up`.
// Resources: resource group, Function App + plan, Key Vault (RBAC, soft delete, purge protection),
// Log Analytics + Application Insights (local auth off) + the audit workbook, storage used only
// through managed identity, an optional user-assigned identity for downstream grants.
// Not deployed from the development machines (no Azure access there): see README "Deploy".
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the resource names.')
param environmentName string

// The regions that offer the Flex Consumption plan, as listed by `az functionapp list-flexconsumption-locations`
// and mirrored in Azure-Samples/functions-quickstart-typescript-azd infra/main.bicep (commit 157d2ce), without its
// canary region eastus2euap. A region added later needs adding here.
@minLength(1)
@description('Region for every resource (one that offers Flex Consumption).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({ azd: { type: 'location' } })
param location string

// Purge protection keeps a deleted vault's name reserved for 90 days, so a name derived only from the
// environment name, subscription and region would collide after `azd down` + `azd up`. The suffix is
// random, generated once per azd environment by the preprovision hook (kept in .azure/<env>/.env, so
// re-provisioning the same environment reuses the vault) and replaced by the postdown hook (the vault
// it named is now soft-deleted and its name taken).
@minLength(6)
@maxLength(8)
@description('Random suffix of the Key Vault name (TOKEX_KEY_VAULT_SUFFIX), set by infra/hooks/preprovision.mjs.')
param keyVaultNameSuffix string

@description('Client id (GUID) of the tokex API app registration in Entra ID: v2 caller tokens carry it as aud. Reaches the policy as \${TOKEX_API_CLIENT_ID}.')
param tokexApiClientId string

@description('App ID URI of the tokex API (e.g. api://tokex): v1 caller tokens carry it as aud. Reaches the policy as \${TOKEX_API_APP_ID_URI}.')
param tokexApiAppIdUri string = 'api://tokex'

@description('Tenant whose callers the policy trusts. Reaches the policy as \${TOKEX_TENANT_ID}.')
param callerTenantId string = tenant().tenantId

@description('Policy file inside the deployed package, relative to the app root (TOKEX_POLICY).')
param policyFile string = 'policy.yaml'

@description('Name of the Key Vault secret holding the minted-token signing key (the postprovision hook creates it if absent).')
param signingKeySecretName string = 'tokex-signing'

@description('TOKEX_AUDIT_REQUIRED: true refuses requests (503) whose audit record no durable sink accepted.')
param auditRequired bool = false

@description('Also create a user-assigned identity for downstream grants (policy identity type managed-identity with its clientId).')
param createUserAssignedIdentity bool = false

@description('Object id of the deploying principal (azd sets AZURE_PRINCIPAL_ID): may create the signing key secret. Empty: no access.')
param deployerPrincipalId string = ''

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}tokex-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    deploymentContainerName: 'app-package-${take(resourceToken, 7)}'
  }
}

module keyVault 'app/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    location: location
    tags: tags
    // kv- (3) + resource token (13) + suffix (6-8): at most 24 characters, Key Vault's limit.
    name: '${abbrs.keyVaultVaults}${resourceToken}${keyVaultNameSuffix}'
  }
}

module userIdentity 'app/user-identity.bicep' = if (createUserAssignedIdentity) {
  name: 'userIdentity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}tokex-${resourceToken}'
  }
}

module api 'app/function-app.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    // azd finds the app to deploy to by this tag; the plan gets only the environment's tag.
    tags: tags
    serviceTags: { 'azd-service-name': 'api' }
    planName: '${abbrs.webServerFarms}${resourceToken}'
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    userAssignedIdentityId: createUserAssignedIdentity ? userIdentity!.outputs.id : ''
    appSettings: {
      // Read by shared/settings.ts when running in Azure.
      TOKEX_ISSUER: 'https://${functionAppName}.azurewebsites.net'
      TOKEX_POLICY: policyFile
      TOKEX_SIGNING_KEY: 'kv:${signingKeySecretName}'
      KEY_VAULT_URL: keyVault.outputs.uri
      TOKEX_AUDIT_REQUIRED: string(auditRequired)
      TOKEX_AUDIT_FILE: ''
      // The kill switch: kv:<secret> holding the deny-list (`tokex deny add`); empty: none.
      TOKEX_DENY_LIST: ''
      // Referenced from the policy as \${TOKEX_...}.
      TOKEX_API_CLIENT_ID: tokexApiClientId
      TOKEX_API_APP_ID_URI: tokexApiAppIdUri
      TOKEX_TENANT_ID: callerTenantId
      // Audit telemetry, ingested with Entra ID as the app's system-assigned identity (local auth is off).
      APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
    }
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: api.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    deployerPrincipalId: deployerPrincipalId
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output TOKEX_PRINCIPAL_ID string = api.outputs.principalId
output TOKEX_USER_ASSIGNED_CLIENT_ID string = createUserAssignedIdentity ? userIdentity!.outputs.clientId : ''
output TOKEX_TENANT_ID string = callerTenantId
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URL string = keyVault.outputs.uri
output TOKEX_SIGNING_KEY_SECRET string = signingKeySecretName
