"""Azure Resource Manager: one package per resource (`role_definitions`, `role_assignments`,
`assignment_requests`, `eligibility_requests`, `schedules`, `policies`, `approvals`, `resources` (reads),
`provider_resources` (resource group, vault, secret and storage account writes), `deployments` (template
deployments, over the language in `template_language/`)), each with
`routes.py` (its operations), `handlers.py` (backend result -> ARM's wire shape) and `backend.py` (authorization,
logic and state changes on a `Ctx`, no HTTP); `common/` holds what they share (request context and scopes,
classification and routing, RBAC and ABAC, the PIM models and request parsing); `state.py` seeds PIM state."""
