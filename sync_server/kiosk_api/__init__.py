"""The kiosks' HTTP API (`/api/v1`): enrollment, push, pull and heartbeat, described by its OpenAPI
document, every error a problem+json object. A blueprint over `sync`, `families` and `money`."""
