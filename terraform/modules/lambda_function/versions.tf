terraform {
  # 1.9 for validations that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.25 added `durable_config` to aws_lambda_function.
      version = ">= 6.25"
    }
  }
}
