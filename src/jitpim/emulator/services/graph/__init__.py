"""Microsoft Graph: one package per resource (`pim`, `approvals`, `policies`, `audit`, `applications`,
`federated_credentials`, `service_principals`, `users`, `groups`, `directory_objects`, `directory_roles`), each with
`routes.py` and `handlers.py` (request -> backend -> wire JSON) and, where the resource changes state, a
`backend.py` (logic and state, no HTTP); `common/` holds what they share (version routing, OData, permission
checks, directory listing and the directory objects' shapes); `state.py` seeds PIM state and its expiry ticks."""
