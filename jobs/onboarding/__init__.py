"""Bringing a CRM in: connect (OAuth grant), import its territories as a plan, doctor, needed scopes."""
