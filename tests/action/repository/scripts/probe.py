#!/usr/bin/env python3
"""The privileged work of the example workflows, done with Microsoft's own clients against the emulator: it
stands in for the user's deploy/rotate/diagnose scripts. It authenticates as the job does inside `jitpim exec`
(the lease's managed-identity endpoint when jitpim serves one, else the job's GitHub OIDC token) and reads the
emulator's endpoints from the file named by $EMULATOR_INFO.

    probe.py can SCOPE ACTION            exit 0 when the identity may do ACTION at SCOPE now, 3 when not
    probe.py cannot SCOPE ACTION         the reverse
    probe.py set-secret VAULT NAME       write a fresh random value (masked first); print the version id
    probe.py set-secret-denied VAULT NAME   exit 0 when Key Vault refuses the write (403)
    probe.py read-secret VAULT NAME      read it; print only its length
    probe.py assignments SCOPE FILE      write the role assignments at SCOPE to FILE (JSON)
    probe.py add-federated-credential APP NAME SUBJECT   add a federated credential to application APP
    probe.py directory-role ROLE         exit 0 when the identity holds directory role ROLE now
"""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import requests

INFO = json.loads(Path(os.environ["EMULATOR_INFO"]).read_text(encoding="utf-8"))
CA = os.environ.get("JITPIM_CA_BUNDLE") or INFO["ca_cert"]


def credential() -> Any:
    if os.environ.get("IDENTITY_ENDPOINT") and os.environ.get("IDENTITY_HEADER"):
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(connection_verify=CA)
    from azure.identity import ClientAssertionCredential

    def assertion() -> str:
        response = requests.get(
            os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=api://AzureADTokenExchange",
            headers={"Authorization": "Bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]},
            verify=CA,
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["value"])

    return ClientAssertionCredential(
        os.environ["AZURE_TENANT_ID"],
        os.environ["AZURE_CLIENT_ID"],
        assertion,
        authority=os.environ.get("AZURE_AUTHORITY_HOST", INFO["authority"]),
        connection_verify=CA,
    )


def call(method: str, url: str, scope: str, body: Any = None) -> requests.Response:
    token = credential().get_token(scope).token
    return requests.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}, verify=CA, timeout=30)


def allowed(scope: str, action: str) -> bool:
    url = f"{INFO['arm']}{scope}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
    response = call("GET", url, "https://management.azure.com/.default")
    response.raise_for_status()
    granted = denied = False
    for permission in response.json()["value"]:
        if any(fnmatch.fnmatch(action.lower(), a.lower()) for a in permission.get("actions", [])):
            granted = True
        if any(fnmatch.fnmatch(action.lower(), a.lower()) for a in permission.get("notActions", [])):
            denied = True
    return granted and not denied


def secret_client(vault: str) -> Any:
    from azure.keyvault.secrets import SecretClient

    return SecretClient(
        INFO["vaults"][vault]["url"], credential(), verify_challenge_resource=False, connection_verify=CA
    )


def main(argv: list[str]) -> int:
    command, *args = argv
    if command in ("can", "cannot"):
        ok = allowed(args[0], args[1])
        print(f"{args[1]} at {args[0]}: {'allowed' if ok else 'not allowed'}")
        return 0 if ok == (command == "can") else 3
    if command == "set-secret":
        value = secrets.token_urlsafe(24)
        print(f"::add-mask::{value}", flush=True)
        version = secret_client(args[0]).set_secret(args[1], value).properties.version
        print(f"{args[0]}/{args[1]}: new version {version}")
        return 0
    if command == "set-secret-denied":
        from azure.core.exceptions import HttpResponseError

        try:
            secret_client(args[0]).set_secret(args[1], secrets.token_urlsafe(24))
        except HttpResponseError as exc:
            print(f"{args[0]}/{args[1]}: write refused ({exc.status_code})")
            return 0 if exc.status_code == 403 else 4
        print(f"{args[0]}/{args[1]}: the write was allowed")
        return 3
    if command == "read-secret":
        value = secret_client(args[0]).get_secret(args[1]).value or ""
        print(f"::add-mask::{value}", flush=True)
        print(f"{args[0]}/{args[1]}: read {len(value)} characters")
        return 0
    if command == "assignments":
        url = f"{INFO['arm']}{args[0]}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
        response = call("GET", url, "https://management.azure.com/.default")
        response.raise_for_status()
        rows = [a["properties"] for a in response.json()["value"]]
        with open(args[1], "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)
        print(f"{len(rows)} role assignment(s) at {args[0]} written to {args[1]}")
        return 0
    if command == "add-federated-credential":
        graph = "https://graph.microsoft.com/.default"
        found = call("GET", f"{INFO['graph']}/v1.0/applications?$filter=displayName eq '{args[0]}'", graph)
        found.raise_for_status()
        app_id = found.json()["value"][0]["id"]
        body = {
            "name": args[1],
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": args[2],
            "audiences": ["api://AzureADTokenExchange"],
        }
        response = call("POST", f"{INFO['graph']}/v1.0/applications/{app_id}/federatedIdentityCredentials", graph, body)
        print(f"{args[0]}: federated credential {args[1]} -> {response.status_code}")
        return 0 if response.status_code == 201 else 5
    if command == "directory-role":
        import jwt

        graph = "https://graph.microsoft.com/.default"
        oid = jwt.decode(credential().get_token(graph).token, options={"verify_signature": False})["oid"]
        roles = call("GET", f"{INFO['graph']}/v1.0/roleManagement/directory/roleDefinitions", graph)
        roles.raise_for_status()
        role_id = next(r["id"] for r in roles.json()["value"] if r["displayName"] == args[0])
        url = f"{INFO['graph']}/v1.0/roleManagement/directory/roleAssignments?$filter=principalId eq '{oid}'"
        held = call("GET", url, graph)
        held.raise_for_status()
        active = any(a["roleDefinitionId"] == role_id for a in held.json()["value"])
        print(f"{args[0]}: {'active' if active else 'not held'}")
        return 0 if active else 3
    print(f"unknown command {command}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
