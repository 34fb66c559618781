from typing import Dict, List, Optional, Any, Callable, Tuple

class ElasticJobError(RuntimeError): ...

class JobConfig:
    def __init__(
        self,
        job_name: str,
        cron: str = "",
        sharding_total_count: int = 1,
        *,
        sharding_item_parameters: str = "",
        job_parameter: str = "",
        failover: bool = False,
        misfire: bool = True,
        monitor_execution: bool = True,
        max_time_diff_seconds: int = -1,
        reconcile_interval_minutes: int = 10,
        job_sharding_strategy_type: Optional[str] = None,
        job_error_handler_type: Optional[str] = None,
        job_executor_service_handler_type: Optional[str] = None,
        description: str = "",
        props: Optional[Dict[str, str]] = None,
        disabled: bool = False,
        overwrite: bool = False,
        label: Optional[str] = None,
        static_sharding: bool = False,
        time_zone: Optional[str] = None,
    ) -> None: ...
    @staticmethod
    def from_yaml(yaml: str) -> "JobConfig": ...
    def to_yaml(self) -> str: ...
    job_name: str
    cron: str
    sharding_total_count: int
    sharding_item_parameters: str
    job_parameter: str
    failover: bool
    misfire: bool
    monitor_execution: bool
    overwrite: bool
    disabled: bool
    time_zone: Optional[str]
    props: Dict[str, str]
    max_time_diff_seconds: int
    reconcile_interval_minutes: int
    job_sharding_strategy_type: Optional[str]
    job_error_handler_type: Optional[str]
    job_executor_service_handler_type: Optional[str]
    description: str
    label: Optional[str]
    static_sharding: bool

class CancelSignal:
    """A run's stop signal (``ctx.cancelled``); like ``threading.Event``, set only by the scheduler."""
    def is_set(self) -> bool: ...
    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks (GIL released) until set or ``timeout`` seconds (0 to 86400; None: no limit) pass."""
        ...
    @property
    def reason(self) -> Optional[str]:
        """``"timed-out"``, ``"session-lost"``, ``"item-moved"``, ``"shutdown"``, or None while unset."""
        ...
    def _on_cancel(self, callback: Callable[[str], Any]) -> None: ...

class ShardingContext:
    job_name: str
    task_id: str
    sharding_total_count: int
    job_parameter: str
    sharding_item: int
    sharding_parameter: str
    fire_time: int
    fire_time_known: bool
    failover: bool
    fencing_token: int
    cancelled: CancelSignal

class ShardingContexts:
    task_id: str
    job_name: str
    sharding_total_count: int
    job_parameter: str
    sharding_item_parameters: Dict[int, str]
    fire_time: int

class Registry: ...

class ZookeeperRegistry(Registry):
    def __init__(
        self,
        servers: str,
        namespace: str,
        session_timeout: float = 60.0,
        connection_timeout: float = 15.0,
        digest: Optional[str] = None,
    ) -> None: ...

class EmbeddedRegistry(Registry):
    def __init__(self, namespace: str = "elasticjob") -> None: ...

class Scheduler:
    def __init__(
        self,
        registry: Registry,
        config: JobConfig,
        *,
        execute: Optional[Callable[[ShardingContext], Any]] = None,
        fetch: Optional[Callable[[ShardingContext], List[Any]]] = None,
        process: Optional[Callable[[ShardingContext, List[Any]], Any]] = None,
        script: bool = False,
        http: bool = False,
        instance_id: Optional[str] = None,
        max_parallel: Optional[int] = None,
        sharding_strategies: Optional[Dict[str, Callable[[List[str], int, str], Dict[str, List[int]]]]] = None,
        listeners: List[Tuple[Optional[Callable[[ShardingContexts], Any]], Optional[Callable[[ShardingContexts], Any]]]] = ...,
        once_listeners: List[Tuple[Optional[Callable[[ShardingContexts], Any]], Optional[Callable[[ShardingContexts], Any]], int, int]] = ...,
        one_off: bool = False,
        history: Optional[str] = None,
        metrics_listen: Optional[str] = None,
    ) -> None: ...
    def start(self) -> None: ...
    def execute_all(self) -> None: ...
    def trigger(self) -> None: ...
    def shutdown(self) -> None: ...
    def next_event(self, timeout: float = 1.0) -> Optional[Dict[str, Any]]: ...
    instance_id: str
    job_name: str
    is_shut_down: bool
    config: JobConfig
    history_stats: Optional[Dict[str, Any]]
    metrics: Metrics
    metrics_address: Optional[str]

class Histogram:
    bounds: List[float]
    buckets: List[int]
    count: int
    sum: float

class Metrics:
    job_name: str
    fires: Dict[str, int]
    executions: Dict[str, int]
    fire_lag: Histogram
    handler_duration: Histogram
    misfires: int
    failovers_taken: int
    reshards: int
    errors: int
    items_owned: int
    items_running: int
    session_state: str
    reconnects: Dict[str, int]
    history: Optional[Dict[str, int]]

class Operator:
    def __init__(self, registry: Registry) -> None: ...
    def trigger(self, job_name: str) -> None: ...
    def disable(self, job_name: str, server_ip: Optional[str] = None) -> None: ...
    def enable(self, job_name: str, server_ip: Optional[str] = None) -> None: ...
    def disable_item(self, job_name: str, item: int) -> None: ...
    def enable_item(self, job_name: str, item: int) -> None: ...
    def shutdown(self, job_name: str, server_ip: Optional[str] = None) -> None: ...
    def remove(self, job_name: str, server_ip: Optional[str] = None) -> None: ...
    def jobs(self) -> List[Dict[str, Any]]: ...
    def instances(self, job_name: str) -> List[Dict[str, Any]]: ...
    def items(self, job_name: str) -> List[Dict[str, Any]]: ...
