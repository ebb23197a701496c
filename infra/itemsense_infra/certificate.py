"""The API's TLS certificate (ACM), requested when the stack names a domain."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

NO_DOMAIN_WARNING = (
    "WARNING: no apiDomain is configured, so the API is served over PLAIN HTTP on the load "
    "balancer's own name: API keys and data cross the internet unencrypted. Set apiDomain "
    "(`pulumi config set apiDomain api.example.com`), create the DNS validation record from "
    "the apiCertificateValidation output, and add the host to the environment's overlay."
)


def api_certificate(domain: str, tags: dict[str, str]) -> dict[str, pulumi.Output[Any]]:
    """Outputs for the API endpoint: a DNS-validated certificate, or the plain-HTTP warning.

    The AWS Load Balancer Controller finds the certificate by the Ingress hostname, so no
    ARN has to travel into the manifests.
    """
    if not domain:
        return {"apiWarning": pulumi.Output.from_input(NO_DOMAIN_WARNING)}
    certificate = aws.acm.Certificate(
        "itemsense-api",
        domain_name=domain,
        validation_method="DNS",
        tags={**tags, "Name": domain},
    )
    return {
        "apiUrl": pulumi.Output.from_input(f"https://{domain}"),
        "apiCertificateArn": certificate.arn,
        # The CNAME to create in the domain's DNS zone; ACM issues the certificate after it.
        "apiCertificateValidation": certificate.domain_validation_options,
    }
