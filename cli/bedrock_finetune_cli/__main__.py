"""``python -m bedrock_finetune_cli``: the same as the ``bedrock-finetune`` console script."""

import sys

from bedrock_finetune_cli.main import main

sys.exit(main())
