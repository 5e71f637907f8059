-- Creates the PostgreSQL role of the function app's managed identity and grants it what the
-- keyless component needs. Run it with psql as the server's Microsoft Entra administrator,
-- from a machine inside the virtual network (the server has no public endpoint):
--
--   export PGPASSWORD=$(az account get-access-token --resource-type oss-rdbms \
--       --query accessToken -o tsv)
--   psql "host=<server>.postgres.database.azure.com port=5432 dbname=postgres \
--       user=<admin principal name> sslmode=verify-full sslrootcert=system" \
--       -v app_name=<function app name> -v app_database=keyless -f deploy/grant.sql
--
-- `deploy/deploy.sh grant` runs exactly this. The access token is the password and is
-- valid for about an hour, and nothing stores it. `sslrootcert=system` needs libpq 16 or
-- later; with an older psql, download the server's root certificates and name that file.
--
-- If the role exists already, the first call fails and ON_ERROR_STOP ends the script.
-- Drop the role or remove that line, then run the file again.

\set ON_ERROR_STOP on

-- Step 1, in the postgres database: map the Entra service principal of the app's
-- system-assigned identity (display name = app name) to a login role. The two false
-- arguments mean "not an administrator" and "no MFA claim required".
-- With several principals of the same display name, use instead:
--   select * from pgaadauth_create_principal_with_oid(:'app_name', '<principal id>', 'service', false, false);
select * from pgaadauth_create_principal(:'app_name', false, false);

-- Step 2, in the application database: the privileges the component's routes and the
-- refresh-summary job use. Tables come from schema.sql, applied by the administrator.
\connect :app_database

grant connect on database :"app_database" to :"app_name";
grant usage on schema public to :"app_name";

-- GET, POST, PUT and DELETE /api/clients. The id column is an identity column, so INSERT
-- needs no privilege on its sequence.
grant select, insert, update, delete on table clients to :"app_name";

-- POST /internal/jobs/refresh-summary reads clients and upserts the single summary row.
grant select, insert, update on table client_summary to :"app_name";
