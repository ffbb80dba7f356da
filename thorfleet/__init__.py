"""thorfleet: provision NVIDIA Jetson AGX Thor units and serve LLMs on them, with pyinfra."""

from pathlib import Path

# The checkout holds roles/, templates/, group_vars/ and inventory/ side by side.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
