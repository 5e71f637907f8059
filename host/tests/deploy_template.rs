//! deploy/azuredeploy.json declares the private, Entra-only deployment, and the deploy
//! scripts are valid shell that run their steps in order. Nothing here contacts Azure: the
//! template is read as JSON and deploy.sh runs with --dry-run.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn template() -> Value {
    let text = fs::read_to_string(repo_root().join("deploy/azuredeploy.json")).unwrap();
    serde_json::from_str(&text).expect("azuredeploy.json must be valid JSON")
}

fn resources_of_type<'a>(template: &'a Value, resource_type: &str) -> Vec<&'a Value> {
    template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|resource| {
            resource["type"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(resource_type)
        })
        .collect()
}

fn single<'a>(template: &'a Value, resource_type: &str) -> &'a Value {
    let found = resources_of_type(template, resource_type);
    assert_eq!(found.len(), 1, "expected exactly one {resource_type}");
    found[0]
}

fn app_setting<'a>(site: &'a Value, name: &str) -> &'a str {
    site["properties"]["siteConfig"]["appSettings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|setting| setting["name"] == name)
        .unwrap_or_else(|| panic!("app setting {name} missing"))["value"]
        .as_str()
        .unwrap()
}

#[test]
fn template_declares_every_resource() {
    let template = template();

    for resource_type in [
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Network/privateDnsZones",
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
        "Microsoft.Network/privateEndpoints",
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
        "Microsoft.DBforPostgreSQL/flexibleServers",
        "Microsoft.DBforPostgreSQL/flexibleServers/administrators",
        "Microsoft.DBforPostgreSQL/flexibleServers/databases",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Storage/storageAccounts/blobServices/containers",
        "Microsoft.Web/serverfarms",
        "Microsoft.Web/sites",
    ] {
        assert!(
            !resources_of_type(&template, resource_type).is_empty(),
            "{resource_type} missing"
        );
    }
}

#[test]
fn api_versions_match_metadata() {
    let template = template();
    let recorded = template["metadata"]["apiVersions"].as_object().unwrap();

    for resource in template["resources"].as_array().unwrap() {
        let resource_type = resource["type"].as_str().unwrap();
        let api_version = resource["apiVersion"].as_str().unwrap();
        assert_eq!(
            recorded.get(resource_type).and_then(Value::as_str),
            Some(api_version),
            "metadata.apiVersions must record {resource_type}@{api_version}"
        );
        assert!(
            !api_version.contains("preview"),
            "{resource_type} uses preview API {api_version}"
        );
    }
}

#[test]
fn postgres_is_entra_only_and_private() {
    let template = template();
    let server = single(&template, "Microsoft.DBforPostgreSQL/flexibleServers");
    let properties = &server["properties"];

    assert_eq!(properties["authConfig"]["activeDirectoryAuth"], "Enabled");
    assert_eq!(properties["authConfig"]["passwordAuth"], "Disabled");
    assert_eq!(properties["network"]["publicNetworkAccess"], "Disabled");
    assert!(
        properties.get("administratorLogin").is_none(),
        "no password login may be created"
    );
    assert!(properties.get("administratorLoginPassword").is_none());

    let admin = single(
        &template,
        "Microsoft.DBforPostgreSQL/flexibleServers/administrators",
    );
    assert_eq!(
        admin["properties"]["principalName"],
        "[parameters('entraAdminPrincipalName')]"
    );
    assert_eq!(
        admin["properties"]["principalType"],
        "[parameters('entraAdminPrincipalType')]"
    );
    assert!(
        admin["name"]
            .as_str()
            .unwrap()
            .contains("parameters('entraAdminObjectId')")
    );
    let parameters = template["parameters"].as_object().unwrap();
    for name in [
        "entraAdminObjectId",
        "entraAdminPrincipalName",
        "entraAdminPrincipalType",
    ] {
        assert!(parameters.contains_key(name), "parameter {name} missing");
    }
}

#[test]
fn private_endpoint_uses_postgres_dns_zone() {
    let template = template();

    let endpoint = single(&template, "Microsoft.Network/privateEndpoints");
    let connection = &endpoint["properties"]["privateLinkServiceConnections"][0]["properties"];
    assert_eq!(connection["groupIds"], json!(["postgresqlServer"]));
    assert_eq!(
        connection["privateLinkServiceId"],
        "[variables('postgresServerId')]"
    );
    assert_eq!(
        endpoint["properties"]["subnet"]["id"],
        "[variables('privateEndpointSubnetId')]"
    );

    assert_eq!(
        template["variables"]["privateDnsZoneName"],
        "privatelink.postgres.database.azure.com"
    );
    let zone = single(&template, "Microsoft.Network/privateDnsZones");
    assert_eq!(zone["name"], "[variables('privateDnsZoneName')]");
    assert_eq!(zone["location"], "global");

    let link = single(
        &template,
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
    );
    assert!(
        link["name"]
            .as_str()
            .unwrap()
            .contains("variables('privateDnsZoneName')")
    );
    assert_eq!(
        link["properties"]["virtualNetwork"]["id"],
        "[resourceId('Microsoft.Network/virtualNetworks', parameters('vnetName'))]"
    );
    assert_eq!(link["properties"]["registrationEnabled"], false);

    let group = single(
        &template,
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
    );
    assert_eq!(
        group["properties"]["privateDnsZoneConfigs"][0]["properties"]["privateDnsZoneId"],
        "[resourceId('Microsoft.Network/privateDnsZones', variables('privateDnsZoneName'))]"
    );
}

#[test]
fn subnets_have_expected_delegations() {
    let template = template();
    let vnet = single(&template, "Microsoft.Network/virtualNetworks");
    let subnets = vnet["properties"]["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 2);

    let integration = subnets
        .iter()
        .find(|s| s["name"] == "[variables('integrationSubnetName')]")
        .unwrap();
    let delegations = integration["properties"]["delegations"].as_array().unwrap();
    assert_eq!(delegations.len(), 1);
    assert_eq!(
        delegations[0]["properties"]["serviceName"],
        "Microsoft.App/environments"
    );

    let endpoints = subnets
        .iter()
        .find(|s| s["name"] == "[variables('privateEndpointSubnetName')]")
        .unwrap();
    assert!(
        endpoints["properties"].get("delegations").is_none(),
        "a private endpoint subnet takes no delegation"
    );
    assert_eq!(
        template["variables"]["integrationSubnetName"],
        "integration"
    );
    assert_eq!(
        template["variables"]["privateEndpointSubnetName"],
        "private-endpoints"
    );
}

#[test]
fn function_app_is_flex_custom_with_identity() {
    let template = template();

    let plan = single(&template, "Microsoft.Web/serverfarms");
    assert_eq!(plan["sku"]["name"], "FC1");
    assert_eq!(plan["sku"]["tier"], "FlexConsumption");
    assert_eq!(plan["properties"]["reserved"], true);

    let site = single(&template, "Microsoft.Web/sites");
    assert_eq!(site["kind"], "functionapp,linux");
    assert_eq!(site["identity"]["type"], "SystemAssigned");
    assert_eq!(
        site["properties"]["virtualNetworkSubnetId"],
        "[variables('integrationSubnetId')]"
    );
    assert_eq!(site["properties"]["httpsOnly"], true);

    let config = &site["properties"]["functionAppConfig"];
    assert_eq!(config["runtime"]["name"], "custom");
    assert_eq!(config["deployment"]["storage"]["type"], "blobContainer");
    assert_eq!(
        config["deployment"]["storage"]["authentication"]["type"],
        "SystemAssignedIdentity"
    );
    assert!(
        config["deployment"]["storage"]["value"]
            .as_str()
            .unwrap()
            .contains("variables('deploymentContainerName')")
    );
    assert!(config["scaleAndConcurrency"]["maximumInstanceCount"].is_string());
    assert!(config["scaleAndConcurrency"]["instanceMemoryMB"].is_string());

    let container = single(
        &template,
        "Microsoft.Storage/storageAccounts/blobServices/containers",
    );
    assert!(
        container["name"]
            .as_str()
            .unwrap()
            .contains("variables('deploymentContainerName')")
    );
    let storage = single(&template, "Microsoft.Storage/storageAccounts");
    assert_eq!(storage["properties"]["allowSharedKeyAccess"], false);
}

#[test]
fn app_settings_point_at_server_by_name() {
    let template = template();
    let site = single(&template, "Microsoft.Web/sites");
    let fqdn = "reference(variables('postgresServerId'), '2024-08-01').fullyQualifiedDomainName";

    assert_eq!(app_setting(site, "PGHOST"), format!("[{fqdn}]"));
    assert_eq!(app_setting(site, "PGPORT"), "5432");
    assert_eq!(app_setting(site, "PGSSLMODE"), "verify-full");
    assert_eq!(
        app_setting(site, "PGUSER"),
        "[parameters('functionAppName')]"
    );
    assert_eq!(
        app_setting(site, "PGDATABASE"),
        "[parameters('databaseName')]"
    );
    assert_eq!(
        app_setting(site, "KEYLESS_ALLOWED_DB_HOSTS"),
        format!("[format('{{0}}:5432', {fqdn})]")
    );
    assert_eq!(app_setting(site, "KEYLESS_TOKEN_SOURCE"), "app-service");
    assert_eq!(
        app_setting(site, "KEYLESS_TOKEN_SCOPE"),
        "[variables('tokenScope')]"
    );
    assert_eq!(
        template["variables"]["tokenScope"],
        "https://ossrdbms-aad.database.windows.net/.default"
    );
    assert_eq!(
        app_setting(site, "AzureWebJobsStorage__accountName"),
        "[parameters('storageAccountName')]"
    );

    let names: BTreeSet<&str> = site["properties"]["siteConfig"]["appSettings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|setting| setting["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains("FUNCTIONS_WORKER_RUNTIME"),
        "Flex Consumption takes the runtime from functionAppConfig"
    );
    assert!(
        !names.contains("AzureWebJobsStorage"),
        "host storage must use the identity, not a connection string"
    );
}

#[test]
fn role_assignments_target_app_identity() {
    let template = template();
    let assignments = resources_of_type(&template, "Microsoft.Authorization/roleAssignments");
    let principal = "[reference(resourceId('Microsoft.Web/sites', parameters('functionAppName')), '2024-04-01', 'Full').identity.principalId]";

    assert_eq!(assignments.len(), 2);
    for assignment in &assignments {
        assert_eq!(assignment["properties"]["principalId"], principal);
        assert_eq!(
            assignment["properties"]["principalType"],
            "ServicePrincipal"
        );
    }
    assert_eq!(
        template["variables"]["storageBlobDataOwnerRoleId"],
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
    );
}

#[test]
fn template_parameters_are_used() {
    let template = template();
    let text = serde_json::to_string(&template["resources"]).unwrap()
        + &serde_json::to_string(&template["variables"]).unwrap()
        + &serde_json::to_string(&template["parameters"]).unwrap();

    for name in template["parameters"].as_object().unwrap().keys() {
        assert!(
            text.contains(&format!("parameters('{name}')")),
            "parameter {name} is never used"
        );
    }
    for name in template["variables"].as_object().unwrap().keys() {
        assert!(
            text.contains(&format!("variables('{name}')")),
            "variable {name} is never used"
        );
    }
}

#[test]
fn scripts_are_valid_bash() {
    for script in ["deploy/deploy.sh", "scripts/package.sh"] {
        let status = Command::new("bash")
            .arg("-n")
            .arg(repo_root().join(script))
            .status()
            .unwrap();
        assert!(status.success(), "bash -n {script} failed");
    }
}

#[test]
fn deploy_dry_run_orders_steps() {
    let output = Command::new("bash")
        .arg(repo_root().join("deploy/deploy.sh"))
        .args([
            "--dry-run",
            "--resource-group",
            "rg-keyless",
            "--name",
            "kl-demo",
            "--package",
            "/tmp/app.zip",
        ])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let commands: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("+ "))
        .collect();

    let position = |needle: &str| {
        commands
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no step contains {needle}: {commands:#?}"))
    };
    assert!(position("az group create") < position("az deployment group create"));
    assert!(position("az deployment group create") < position("package.sh"));
    assert!(position("package.sh") < position("deployment source config-zip"));
    assert!(stdout.contains("functionAppName=kl-demo-func"));
    assert!(stdout.contains("postgresServerName=kl-demo-pg"));
    assert!(stdout.contains("storageAccountName=kldemopkg"));
}

#[test]
fn grant_dry_run_uses_token_and_grant_sql() {
    let output = Command::new("bash")
        .arg(repo_root().join("deploy/deploy.sh"))
        .args([
            "grant",
            "--dry-run",
            "--resource-group",
            "rg-keyless",
            "--name",
            "kl-demo",
            "--admin-name",
            "ana@contoso.com",
            "--admin-object-id",
            "00000000-0000-0000-0000-000000000001",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();

    assert!(
        stdout.contains("az account get-access-token --resource-type oss-rdbms"),
        "{stdout}"
    );
    assert!(stdout.contains("dbname=postgres"), "{stdout}");
    assert!(stdout.contains("sslmode=verify-full"), "{stdout}");
    assert!(stdout.contains("app_name=kl-demo-func"), "{stdout}");
    assert!(stdout.contains("deploy/grant.sql"), "{stdout}");
    assert!(
        !stdout.contains("schema.sql"),
        "schema is applied only with --apply-schema"
    );
}

#[test]
fn grant_sql_creates_principal_and_grants() {
    let sql = fs::read_to_string(repo_root().join("deploy/grant.sql")).unwrap();

    assert!(sql.contains("select * from pgaadauth_create_principal(:'app_name', false, false);"));
    assert!(sql.contains("\\connect :app_database"));
    assert!(
        sql.contains("grant select, insert, update, delete on table clients to :\"app_name\";")
    );
    assert!(sql.contains("grant select, insert, update on table client_summary to :\"app_name\";"));
    assert!(
        !sql.to_lowercase().contains("aad_validate_oids_in_tenant"),
        "Single Server setting"
    );
    assert!(
        !sql.to_lowercase().contains("azure_ad_user"),
        "Single Server role"
    );
}

#[test]
fn settings_example_lists_host_variables() {
    let example: Value = serde_json::from_str(
        &fs::read_to_string(repo_root().join("deploy/local.settings.json.example")).unwrap(),
    )
    .unwrap();
    let values = example["Values"].as_object().unwrap();
    let notes = example["_notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(values["FUNCTIONS_WORKER_RUNTIME"], "custom");
    for name in [
        "PGHOST",
        "PGPORT",
        "PGDATABASE",
        "PGUSER",
        "PGSSLMODE",
        "KEYLESS_TOKEN_SCOPE",
        "KEYLESS_TOKEN_SOURCE",
        "KEYLESS_ALLOWED_DB_HOSTS",
        "AzureWebJobsStorage",
    ] {
        assert!(values.contains_key(name), "{name} missing from Values");
    }
    assert!(
        values
            .values()
            .all(|value| value.as_str().is_some_and(|text| !text.is_empty())),
        "empty values break the handler's option parsing"
    );

    // Every variable the handler's options read must be listed, as a value or in the notes.
    // FUNCTIONS_CUSTOMHANDLER_PORT, which the Functions host sets, appears in the notes.
    for variable in host_option_variables() {
        assert!(
            values.contains_key(&variable) || notes.contains(&variable),
            "{variable} is read by the handler but missing from local.settings.json.example"
        );
    }
}

/// Collects the environment variables that `handler --help` lists (`[env: NAME=...]`).
fn host_option_variables() -> BTreeSet<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_handler"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "handler --help failed");
    let help = String::from_utf8(output.stdout).unwrap();

    let variables: BTreeSet<String> = help
        .split("env: ")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .filter(|name: &String| !name.is_empty())
        .collect();
    assert!(
        variables.contains("KEYLESS_TOKEN_SOURCE"),
        "unexpected handler --help output: {help}"
    );
    variables
}

fn read_json(relative: &str) -> Value {
    serde_json::from_str(&fs::read_to_string(repo_root().join(relative)).unwrap()).unwrap()
}

#[test]
fn host_json_configures_custom_handler() {
    let host = read_json("deploy/functionapp/host.json");

    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        "handler"
    );
    assert_eq!(
        host["customHandler"]["description"]["workingDirectory"],
        "."
    );
    assert_eq!(
        host["customHandler"]["description"]["arguments"],
        json!(["--component", "keyless.wasm"])
    );
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    assert_eq!(host["extensions"]["http"]["routePrefix"], "api");
    assert!(host["functionTimeout"].is_string());
    assert!(host["logging"]["logLevel"].is_object());
}

#[test]
fn function_json_files_declare_triggers() {
    let clients = read_json("deploy/functionapp/clients/function.json");
    let health = read_json("deploy/functionapp/health/function.json");
    let refresh = read_json("deploy/functionapp/refresh-summary/function.json");

    assert_eq!(clients["bindings"].as_array().unwrap().len(), 2);
    assert_eq!(clients["bindings"][0]["type"], "httpTrigger");
    assert_eq!(clients["bindings"][0]["route"], "clients/{*rest}");
    assert_eq!(
        clients["bindings"][0]["methods"],
        json!(["get", "post", "put", "delete"])
    );
    assert_eq!(clients["bindings"][0]["authLevel"], "function");
    assert_eq!(clients["bindings"][1]["type"], "http");
    assert_eq!(clients["bindings"][1]["direction"], "out");

    assert_eq!(health["bindings"].as_array().unwrap().len(), 2);
    assert_eq!(health["bindings"][0]["route"], "health");
    assert_eq!(health["bindings"][0]["authLevel"], "anonymous");
    assert_eq!(health["bindings"][1]["type"], "http");

    let timer = &refresh["bindings"][0];
    assert_eq!(refresh["bindings"].as_array().unwrap().len(), 1);
    assert_eq!(timer["type"], "timerTrigger");
    assert_eq!(timer["schedule"], "0 0 2 * * *");
    assert_eq!(timer["runOnStartup"], false);
}
