"""The CRM's HTTP API: OAuth, one send path, paging, typed endpoint methods, the error tree."""
