"""Helpers shared by the test packages: a controllable clock, Zoho faked at the HTTP seam, a check
of HTTP traffic against Zoho's OpenAPI files, a throwaway PostgreSQL server, and the data builders
several test modules use. Test modules import from here, never from one another."""
