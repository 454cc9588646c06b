"""Azure Functions entry point (Python v2 programming model) for the jitpim broker.

The host imports this module and collects `app`: an HTTP trigger serving the broker's API through the
Functions ASGI adapter, and a timer trigger running the reaper. See docs/how-to/deploy-broker.md.
"""

from jitpim.broker.functions import function_app

app = function_app()
