"""Template deployments (`Microsoft.Resources/deployments`) at a subscription or a resource group: PUT, GET,
list, validate, what-if, operations and the asynchronous operation status."""
