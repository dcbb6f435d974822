# Named reviewers: each address gets a filtered e-mail subscription of its own, and a policy that cannot
# work is refused at plan (tests/terraform/test_contract_defaults.py holds each function's JSON). Needs dist/*.zip (make build; tests/terraform provides stand-ins).
mock_provider "aws" {
  source = "../../tests/mocks"
}

variables {
  name            = "t1"
  region          = "eu-west-1"
  approver_emails = ["ops@example.com"]
  review_policy = {
    default = { reviewers = ["ana@example.com", "ben@example.com"] }
    datasets = {
      "uploads/sales" = {
        reviewers             = ["ana@example.com", "cy@example.com"]
        approvals_required    = 2
        uploader_may_approve  = false
        escalation            = ["lead@example.com"]
        remind_before_minutes = 120
      }
    }
  }
}

run "each_address_is_subscribed_once" {
  command = plan

  assert {
    condition     = toset(keys(module.storage.reviewer_subscriptions)) == toset(["ana@example.com", "ben@example.com", "cy@example.com", "lead@example.com"])
    error_message = "Every reviewer and escalation address gets one subscription of its own."
  }
}

run "more_approvals_than_reviewers_are_refused" {
  command = plan

  variables {
    review_policy = { default = { reviewers = ["ana@example.com"], approvals_required = 2 } }
  }

  expect_failures = [var.review_policy]
}

run "addresses_that_cannot_match_a_message_attribute_are_refused" {
  command = plan

  variables {
    review_policy = { default = { reviewers = ["Ana@Example.com"] } }
  }

  expect_failures = [var.review_policy]
}

run "an_address_cannot_be_both_shared_and_named" {
  command = plan

  variables {
    approver_emails = ["ana@example.com"]
  }

  expect_failures = [var.review_policy]
}
