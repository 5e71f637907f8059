#!/usr/bin/env bash
# Deploys keyless to Azure: resource group, infrastructure (deploy/azuredeploy.json), the
# function app package, and, from inside the virtual network, the database role and grants.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage:
  deploy/deploy.sh [options]          create the resources and deploy the package
  deploy/deploy.sh grant [options]    create the app's database role and grants
                                      (run inside the virtual network)

Required:
  --resource-group NAME     Resource group (created if missing).
  --name PREFIX             Prefix for resource names: <prefix>-func (function app and
                            database role), <prefix>-pg (PostgreSQL server). Lowercase
                            letters, digits and hyphens.

Options:
  --location REGION         Region for the group and every resource (default eastus2).
  --storage-account NAME    Storage account name, globally unique (default: the prefix
                            without hyphens plus "pkg", cut to 24 characters).
  --admin-object-id ID      Object id of the Entra administrator of the server
                            (default: the signed-in user).
  --admin-name NAME         Its principal name (default: the signed-in user's UPN).
  --admin-type TYPE         User, Group or ServicePrincipal (default User).
  --database NAME           Application database (default keyless).
  --package PATH            Zip to deploy (default dist/keyless-functionapp.zip, built
                            with scripts/package.sh when missing).
  --apply-schema            With grant: run schema.sql in the application database
                            before the grants.
  --dry-run                 Print the commands instead of running them; contacts nothing.
  -h, --help                Show this help.

Order of work:
  1. az group create
  2. az deployment group create --template-file deploy/azuredeploy.json
  3. scripts/package.sh (when the package is missing)
  4. az functionapp deployment source config-zip
  5. deploy/deploy.sh grant, from a machine inside the virtual network (a jump host or
     Cloud Shell with VNet access): psql as the Entra administrator, with an access token
     from `az account get-access-token --resource-type oss-rdbms` as the password, runs
     deploy/grant.sql. The PostgreSQL server has no public endpoint, so this step cannot
     run from outside the network.
EOF
}

die() {
    echo "deploy.sh: $*" >&2
    exit 1
}

# Runs a command, or prints it with --dry-run.
run() {
    if [[ "$dry_run" == true ]]; then
        printf '+'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=deploy
resource_group=""
prefix=""
location=eastus2
storage_account=""
admin_object_id=""
admin_name=""
admin_type=User
database=keyless
package="$repo_root/dist/keyless-functionapp.zip"
apply_schema=false
dry_run=false

if [[ $# -gt 0 && "$1" == grant ]]; then
    mode=grant
    shift
fi
while [[ $# -gt 0 ]]; do
    case "$1" in
        --resource-group) [[ $# -ge 2 ]] || die "--resource-group needs a value"; resource_group=$2; shift 2 ;;
        --name) [[ $# -ge 2 ]] || die "--name needs a value"; prefix=$2; shift 2 ;;
        --location) [[ $# -ge 2 ]] || die "--location needs a value"; location=$2; shift 2 ;;
        --storage-account) [[ $# -ge 2 ]] || die "--storage-account needs a value"; storage_account=$2; shift 2 ;;
        --admin-object-id) [[ $# -ge 2 ]] || die "--admin-object-id needs a value"; admin_object_id=$2; shift 2 ;;
        --admin-name) [[ $# -ge 2 ]] || die "--admin-name needs a value"; admin_name=$2; shift 2 ;;
        --admin-type) [[ $# -ge 2 ]] || die "--admin-type needs a value"; admin_type=$2; shift 2 ;;
        --database) [[ $# -ge 2 ]] || die "--database needs a value"; database=$2; shift 2 ;;
        --package) [[ $# -ge 2 ]] || die "--package needs a path"; package=$2; shift 2 ;;
        --apply-schema) apply_schema=true; shift ;;
        --dry-run) dry_run=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$1'; run deploy/deploy.sh --help" ;;
    esac
done

[[ -n "$resource_group" ]] || die "missing --resource-group; run deploy/deploy.sh --help"
[[ -n "$prefix" ]] || die "missing --name; run deploy/deploy.sh --help"
[[ "$prefix" =~ ^[a-z][a-z0-9-]{1,40}$ ]] \
    || die "invalid --name '$prefix': use 2 to 41 lowercase letters, digits and hyphens, starting with a letter"
case "$admin_type" in
    User | Group | ServicePrincipal) ;;
    *) die "invalid --admin-type '$admin_type': use User, Group or ServicePrincipal" ;;
esac

app_name="$prefix-func"
server_name="$prefix-pg"
if [[ -z "$storage_account" ]]; then
    storage_account=$(printf '%spkg' "${prefix//-/}" | cut -c1-24)
fi
[[ "$storage_account" =~ ^[a-z0-9]{3,24}$ ]] \
    || die "invalid storage account name '$storage_account': use 3 to 24 lowercase letters and digits"

# The signed-in user is the default administrator. A dry run contacts nothing, so it
# prints placeholders instead.
if [[ -z "$admin_object_id" || -z "$admin_name" ]]; then
    if [[ "$dry_run" == true ]]; then
        admin_object_id=${admin_object_id:-"<signed-in user object id>"}
        admin_name=${admin_name:-"<signed-in user principal name>"}
    else
        command -v az >/dev/null || die "the Azure CLI (az) is not installed"
        admin_object_id=${admin_object_id:-$(az ad signed-in-user show --query id -o tsv)}
        admin_name=${admin_name:-$(az ad signed-in-user show --query userPrincipalName -o tsv)}
    fi
fi

deploy_resources() {
    # Step 1: the resource group.
    run az group create --name "$resource_group" --location "$location" --output none

    # Step 2: network, PostgreSQL, storage, plan and function app. Flex Consumption VNet
    # integration needs the Microsoft.App resource provider.
    run az provider register --namespace Microsoft.App --wait
    run az deployment group create \
        --resource-group "$resource_group" \
        --name keyless \
        --template-file "$repo_root/deploy/azuredeploy.json" \
        --parameters \
        location="$location" \
        functionAppName="$app_name" \
        storageAccountName="$storage_account" \
        postgresServerName="$server_name" \
        databaseName="$database" \
        entraAdminObjectId="$admin_object_id" \
        entraAdminPrincipalName="$admin_name" \
        entraAdminPrincipalType="$admin_type" \
        --output none

    # Step 3: the package, built when missing.
    if [[ ! -f "$package" ]]; then
        run "$repo_root/scripts/package.sh" --output "$package"
    fi

    # Step 4: zip deploy. On Flex Consumption this uploads to the deployment container.
    run az functionapp deployment source config-zip \
        --resource-group "$resource_group" \
        --name "$app_name" \
        --src "$package"

    if [[ "$dry_run" == true ]]; then
        echo "deploy.sh: dry run; nothing was created or changed" >&2
        return
    fi
    cat >&2 <<EOF
deploy.sh: resources and code are deployed. Last step, from a machine inside the virtual
network $app_name-vnet (a jump host or Cloud Shell with VNet access), signed in with az as
$admin_name:

  deploy/deploy.sh grant --resource-group $resource_group --name $prefix --apply-schema

Until then the function's database logins fail, because role $app_name does not exist.
EOF
}

grant_database_access() {
    local host="$server_name.postgres.database.azure.com"
    if [[ "$dry_run" != true ]]; then
        host=$(az postgres flexible-server show --resource-group "$resource_group" \
            --name "$server_name" --query fullyQualifiedDomainName -o tsv)
    fi
    local connection="host=$host port=5432 user=$admin_name sslmode=verify-full sslrootcert=system"

    command -v psql >/dev/null || [[ "$dry_run" == true ]] || die "psql is not installed"
    if [[ "$dry_run" == true ]]; then
        echo "+ export PGPASSWORD=\$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)"
    else
        # The token is the password: it never goes on a command line or into a file.
        PGPASSWORD=$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)
        export PGPASSWORD
    fi

    if [[ "$apply_schema" == true ]]; then
        run psql "$connection dbname=$database" -v ON_ERROR_STOP=1 -f "$repo_root/schema.sql"
    fi
    run psql "$connection dbname=postgres" \
        -v app_name="$app_name" -v app_database="$database" \
        -f "$repo_root/deploy/grant.sql"
    if [[ "$dry_run" == true ]]; then
        echo "deploy.sh: dry run; nothing was created or changed" >&2
    else
        echo "deploy.sh: role $app_name can now use database $database on $host" >&2
    fi
}

case "$mode" in
    deploy) deploy_resources ;;
    grant) grant_database_access ;;
esac
