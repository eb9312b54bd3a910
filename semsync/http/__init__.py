"""The guards of every outbound HTTP call (Cube, the HTTP catalog and its OAuth2 token, the deliveries):
`limits` (a response-size cap and a whole-request deadline), `status` (one classification of HTTP
statuses: transient or final) and `url_policy` (which URLs a tenant's or a channel's settings may name)."""
