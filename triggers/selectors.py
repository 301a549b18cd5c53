from workflows.models import Workflow


def trigger_configs(*, workflow: Workflow) -> list[dict]:
    return [{"config": trigger.config, "is_active": trigger.is_active} for trigger in workflow.triggers.all()]
