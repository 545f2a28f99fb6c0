"""An embedded Zoho-compatible CRM on loopback, for the quick start, the tests and the benchmarks.

Public API: ``start_sandbox`` (returns a running ``Sandbox``; use it as a context manager),
``SandboxOptions`` (the switches for Zoho's uncertain behaviours), ``FaultOptions`` (limits and
faults), and the CLI hooks in ``connector.sandbox.cli``.
"""

from connector.sandbox.faults import FaultOptions
from connector.sandbox.options import SandboxOptions
from connector.sandbox.server import Sandbox, SandboxAdmin, SandboxCredentials, start_sandbox

__all__ = ["FaultOptions", "Sandbox", "SandboxAdmin", "SandboxCredentials", "SandboxOptions", "start_sandbox"]
