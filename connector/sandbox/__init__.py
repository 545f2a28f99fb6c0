"""An embedded Zoho-compatible CRM on loopback, for the quick start, the tests and the benchmarks."""
