# Approval requests (with the review link) go to this topic; approvers subscribe by e-mail.
resource "aws_sns_topic" "approvals" {
  name              = "${var.name}-approvals"
  kms_master_key_id = coalesce(var.kms_key_arn, "alias/aws/sns")
  tags              = var.tags
}

# The shared review link goes to these. A message addressed to a named reviewer (attribute `recipient`)
# never does: https://docs.aws.amazon.com/sns/latest/dg/attribute-key-matching.html
resource "aws_sns_topic_subscription" "approvers" {
  for_each = toset(var.approver_emails)

  topic_arn           = aws_sns_topic.approvals.arn
  protocol            = "email"
  endpoint            = each.value
  filter_policy_scope = "MessageAttributes"
  filter_policy       = jsonencode({ recipient = [{ exists = false }] })
}

# Each named reviewer (and escalation address) receives only the messages addressed to it: its own link.
# https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html
resource "aws_sns_topic_subscription" "reviewers" {
  for_each = toset(var.reviewer_emails)

  topic_arn           = aws_sns_topic.approvals.arn
  protocol            = "email"
  endpoint            = each.value
  filter_policy_scope = "MessageAttributes"
  filter_policy       = jsonencode({ recipient = [each.value] })
}
