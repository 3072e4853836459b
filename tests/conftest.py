"""Test-wide settings. Local runs wait on the local AWS's virtual clock (bedrock_finetune_local.clock), so they use
the stack's real intervals and take seconds of wall time. The handlers read that clock in every test, whether or not
a local account was set up before it (the local AWS points them at it when installed): tests that drive handlers
directly move it with ``CLOCK.advance``."""

from bedrock_finetune import clock as handler_clock
from bedrock_finetune_local.clock import CLOCK

handler_clock.use(CLOCK.now, CLOCK.sleep)
