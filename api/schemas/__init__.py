"""The shapes of the API's answers (`XPublic`), one module per resource: what /openapi.json
publishes, what FastAPI serialises the routes' answers through, and what tests validate real
answers against. Every shape forbids members it does not list, so a field added to an answer
without its shape fails a test instead of going undocumented."""
