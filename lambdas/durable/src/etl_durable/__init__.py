"""The durable orchestrator (one Lambda, checkpointed steps, a callback for the approval) and its starter."""
