#!/usr/bin/env sh
# Makes tokex's managed identity a federated credential of an app registration, so a policy identity
# `{ type: app, tenantId, clientId }` signs in as that app with no secret (Microsoft Graph REST API:
# POST /applications(appId='…')/federatedIdentityCredentials). Idempotent: an existing credential for
# the same identity is left alone. Needs Application.ReadWrite.All (or ownership of the app).
#
#   APP_CLIENT_ID      the app registration's client id (the policy identity's clientId)     required
#   TOKEX_PRINCIPAL_ID the managed identity's principal (object) id: `azd env get-value TOKEX_PRINCIPAL_ID`
#                      for the system-assigned one; for a user-assigned one
#                      `az ad sp show --id "$(azd env get-value TOKEX_USER_ASSIGNED_CLIENT_ID)" --query id -o tsv`   required
#   AZURE_TENANT_ID    the tenant of the identity                                             default: az's
#   FIC_AUDIENCE       api://AzureADTokenExchange; other clouds: api://AzureADTokenExchangeUSGov, …China
#   GRAPH_URL          https://graph.microsoft.com; other clouds have their own
#
# Run after `azd provision` (e.g. `azd env get-values > .env && set -a && . ./.env && sh infra/hooks/federated-credential.sh`),
# or list it as a second postprovision hook in azure.yaml.
set -eu
: "${APP_CLIENT_ID:?set APP_CLIENT_ID to the app registration's client id}"
: "${TOKEX_PRINCIPAL_ID:?set TOKEX_PRINCIPAL_ID to the managed identity's principal id}"
TENANT="${AZURE_TENANT_ID:-$(az account show --query tenantId -o tsv)}"
AUDIENCE="${FIC_AUDIENCE:-api://AzureADTokenExchange}"
GRAPH="${GRAPH_URL:-https://graph.microsoft.com}"
CREDENTIALS="$GRAPH/v1.0/applications(appId='$APP_CLIENT_ID')/federatedIdentityCredentials"

existing=$(az rest --method GET --url "$CREDENTIALS" --query "value[?subject=='$TOKEX_PRINCIPAL_ID'].name" -o tsv)
if [ -n "$existing" ]; then
  echo "app $APP_CLIENT_ID already trusts identity $TOKEX_PRINCIPAL_ID ($existing)"
  exit 0
fi
az rest --method POST --url "$CREDENTIALS" --headers 'Content-Type=application/json' --body "{
  \"name\": \"tokex-$(printf '%s' "$TOKEX_PRINCIPAL_ID" | cut -c1-8)\",
  \"issuer\": \"https://login.microsoftonline.com/$TENANT/v2.0\",
  \"subject\": \"$TOKEX_PRINCIPAL_ID\",
  \"audiences\": [\"$AUDIENCE\"],
  \"description\": \"tokex's managed identity signs in as this app (no secret)\"
}" --query name -o tsv
echo "app $APP_CLIENT_ID now trusts identity $TOKEX_PRINCIPAL_ID"
