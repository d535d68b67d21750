"""The API's documentation: the OpenAPI document's settings (operation ids, the OAuth 2.0 security
scheme, descriptions and examples of the schemas) and its two viewers, Swagger UI and Redoc, whose
files msnet serves itself (``static/``, see its README.txt), so the documentation works offline."""
