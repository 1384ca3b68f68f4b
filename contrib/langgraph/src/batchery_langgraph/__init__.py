"""Batchery nodes in LangGraph graphs: plain nodes, progress on the custom stream.

```python
app = await build_application(settings, only=["openai"], nodes=["infer-atoms", "verify"])
bus = await app.get("batchery.bus")
builder.add_node(as_langgraph_node(await app.get("infer-atoms.node"), bus))
```
"""

from batchery_langgraph._keys import run_key
from batchery_langgraph._mirror import CUSTOM_EVENT_PREFIX, EventMirror
from batchery_langgraph._node import DEADLINE_KEY, RUN_ID_KEY, LangGraphNode, as_langgraph_node

__all__ = [
    "CUSTOM_EVENT_PREFIX",
    "DEADLINE_KEY",
    "RUN_ID_KEY",
    "EventMirror",
    "LangGraphNode",
    "as_langgraph_node",
    "run_key",
]
