"""The CUDA tests' ``device`` fixture (a real GPU, else the simulated device) for autocast."""
from tests.cuda.conftest import device  # noqa: F401
