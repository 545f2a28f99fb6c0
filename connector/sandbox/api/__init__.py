"""The sandbox's Zoho API, one module per resource; ``connector.sandbox.app`` routes to them."""
