"""``bedrock-finetune``, the command line: validate a dataset, list the catalog, drive a deployed stack.

Nothing is imported here: ``bedrock-finetune --help``, ``validate`` and ``models`` must start fast. The entry point is
:func:`bedrock_finetune_cli.main.main`; ``local`` and ``demo`` come from ``bedrock_finetune_local.cli_local`` when it is
installed, and the stack commands import boto3 only when one of them runs.
"""
