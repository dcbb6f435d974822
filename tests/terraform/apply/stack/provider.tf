# Test-only provider configuration: every service the modules use goes to the moto server the test
# started on 127.0.0.1, with fixed test credentials and no account, metadata or credential look-ups.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "moto_endpoint" {
  description = "URL of the moto server (http://127.0.0.1:<port>)."
  type        = string

  validation {
    condition     = can(regex("^http://127\\.0\\.0\\.1:[0-9]+$", var.moto_endpoint))
    error_message = "moto_endpoint must be a loopback URL such as http://127.0.0.1:5000."
  }
}

provider "aws" {
  region     = "us-east-1"
  access_key = "testing"
  secret_key = "testing"

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  # An operation moto lacks fails after one retry instead of backing off for most of an hour.
  max_retries = 1

  endpoints {
    apigateway     = var.moto_endpoint
    cloudwatchlogs = var.moto_endpoint
    dynamodb       = var.moto_endpoint
    iam            = var.moto_endpoint
    lambda         = var.moto_endpoint
    s3             = var.moto_endpoint
    sfn            = var.moto_endpoint
    sns            = var.moto_endpoint
    sqs            = var.moto_endpoint
    sts            = var.moto_endpoint
  }
}
