"""Where a GPU asset runs in the cluster: its `dagster-k8s/config` op tag asks for GPUs and
places its step pod on the GPU node pool (the k8s_job_executor turns op tags into pod specs).
On a laptop the tag is inert and torch picks the CPU."""

from typing import Any

# The label and taint the cluster's GPU node pool carries (docs/deploy.md); nvidia.com/gpu is
# the resource the NVIDIA device plugin advertises.
GPU_NODE_POOL = {"bizo.io/node-pool": "gpu"}
GPU_RESOURCE = "nvidia.com/gpu"


def gpu_op_tags(gpus: int = 1, memory: str = "16Gi", cpu: str = "4") -> dict[str, Any]:
    """Op tags for an asset that trains or scores on GPUs: `@dg.asset(op_tags=gpu_op_tags())`."""
    if gpus < 1:
        raise ValueError(f"a GPU asset needs at least one GPU, not {gpus}")
    return {
        "dagster-k8s/config": {
            "container_config": {
                "resources": {
                    "requests": {"cpu": cpu, "memory": memory, GPU_RESOURCE: str(gpus)},
                    "limits": {"memory": memory, GPU_RESOURCE: str(gpus)},
                }
            },
            "pod_spec_config": {
                "node_selector": GPU_NODE_POOL,
                "tolerations": [
                    {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
                ],
            },
        }
    }
