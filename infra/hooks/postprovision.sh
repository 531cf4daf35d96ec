#!/usr/bin/env sh
# azd postprovision: create the minted-token signing key in Key Vault unless it exists already.
# The key is generated here and goes straight into the vault; it is never written to disk.
set -eu
if az keyvault secret show --vault-name "$KEY_VAULT_NAME" --name "$TOKEX_SIGNING_KEY_SECRET" --query id -o tsv >/dev/null 2>&1; then
  echo "signing key $TOKEX_SIGNING_KEY_SECRET exists in $KEY_VAULT_NAME"
else
  openssl ecparam -name prime256v1 -genkey -noout \
    | az keyvault secret set --vault-name "$KEY_VAULT_NAME" --name "$TOKEX_SIGNING_KEY_SECRET" --file /dev/stdin --content-type application/x-pem-file --query id -o tsv
fi
