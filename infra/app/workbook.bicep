// The audit workbook (docs/audit-queries.md as charts), bound to Application Insights.
param location string
param tags object
param applicationInsightsId string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsightsId, 'tokex-audit')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'tokex audit'
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: loadTextContent('../workbook/tokex-audit.workbook.json')
    version: 'Notebook/1.0'
  }
}
