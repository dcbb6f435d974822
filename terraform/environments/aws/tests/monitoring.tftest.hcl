# Needs dist/durable.zip and dist/approval.zip (make build); tests/terraform provides stand-ins.
mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name                  = "t1"
  region                = "eu-west-1"
  approver_emails       = ["ops@example.com"]
  enable_step_functions = false
}

run "monitoring_is_on_by_default_and_watches_the_deployment" {
  command = apply

  assert {
    condition     = length(module.monitoring) == 1 && output.alarm_topic_arn == module.monitoring[0].alarm_topic_arn && output.dashboard_name == "t1"
    error_message = "The alarms, their topic and the dashboard are created by default."
  }

  assert {
    condition = toset(keys(module.monitoring[0].alarm_names)) == toset([
      "durable-dlq-not-empty", "durable-jobs-failed", "durable-start-failures", "durable-starter-errors",
      "durable-orchestrator-errors", "durable-orchestrator-throttles", "api-5xx",
      "job-stuck-received", "job-stuck-extracted", "job-stuck-transformed", "job-stuck-loaded", "job-stuck-approved",
      "approval-near-timeout",
    ])
    error_message = "A durable-only deployment gets the durable, API and job-age alarms, and no Step Functions alarm."
  }

  assert {
    condition     = module.monitoring[0].alarm_names["durable-jobs-failed"] == "t1-durable-jobs-failed"
    error_message = "Alarm names carry the deployment name."
  }
}

run "monitoring_can_be_turned_off" {
  command = plan

  variables {
    enable_monitoring = false
  }

  assert {
    condition     = length(module.monitoring) == 0 && output.alarm_topic_arn == null && output.dashboard_name == null
    error_message = "enable_monitoring = false creates no alarm, topic or dashboard."
  }
}
