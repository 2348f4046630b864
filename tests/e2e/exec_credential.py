"""A kubeconfig exec credential plugin for the tests, as EKS, GKE, AKS or OIDC logins
have one: prints an ExecCredential (client.authentication.k8s.io/v1) whose client
certificate and key are those of the kubeconfig named by EXEC_CREDENTIAL_FROM, and
appends a line to EXEC_CREDENTIAL_LOG each time it runs.

    EXEC_CREDENTIAL_FROM=admin.kubeconfig python exec_credential.py
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import yaml


def main() -> None:
    source = yaml.safe_load(Path(os.environ["EXEC_CREDENTIAL_FROM"]).read_text())
    [user] = source["users"]
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        # PEM text, as the ExecCredential status carries it (not base64 as in kubeconfigs).
        "status": {
            "clientCertificateData": base64.b64decode(
                user["user"]["client-certificate-data"]
            ).decode(),
            "clientKeyData": base64.b64decode(user["user"]["client-key-data"]).decode(),
        },
    }
    with open(os.environ["EXEC_CREDENTIAL_LOG"], "a") as log:
        log.write("ran\n")
    print(json.dumps(credential))


if __name__ == "__main__":
    main()
