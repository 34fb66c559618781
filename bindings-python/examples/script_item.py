"""The command of the script job in script.py: gets the sharding context
as JSON in its last argument, like any script job's command."""

import json
import sys

context = json.loads(sys.argv[-1])
if context["shardingParameter"] == "broken":
    sys.exit(f"cannot make {context['shardingParameter']} thumbnails")
print(f"made {context['shardingParameter']} thumbnails for item {context['shardingItem']}")
