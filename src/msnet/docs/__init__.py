"""The API's documentation: the OpenAPI document's settings (operation ids, the OAuth 2.0 security
scheme, descriptions and examples of the schemas) and its viewer, Swagger UI, whose files msnet
serves itself (``static/``, see its README.txt), so the documentation works offline. (Redoc was
tried and left out: its page fetched its logo from Redocly's CDN.)"""
