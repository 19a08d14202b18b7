"""gunicorn's settings, read from the working directory: `make run`, the black-box
acceptance tests and a production start from the checkout all use them.

The contract's GET search carries names in the query string (the POST form is
preferred). With several long non-Latin values the request line passes gunicorn's
default 4094 bytes, and gunicorn would answer an HTML 414 before Haven sees the
request. Haven validates every parameter's length itself and answers JSON (400), so
gunicorn does not cut the line; in production the reverse proxy bounds it
(nginx: large_client_header_buffers, 8 KB by default)."""

limit_request_line = 0
