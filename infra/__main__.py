"""Pulumi entry point: read the stack config, declare the resources, export the outputs."""

import pulumi
from itemsense_infra.config import load_config
from itemsense_infra.stack import build

for output_name, value in build(load_config()).items():
    pulumi.export(output_name, value)
