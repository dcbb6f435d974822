terraform {
  # 1.9 for validations that refer to other variables (execution vs approval timeout).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The highest floor of the modules: storage's 6.62 (the jobs index's `key_schema`); the durable
      # pipeline needs 6.25 (`durable_config` of aws_lambda_function).
      version = ">= 6.62"
    }
  }

  # Configure a backend for shared state, e.g. in a backend.tf kept out of the repository:
  #   terraform { backend "s3" { bucket = "...", key = "etl/<name>.tfstate", region = "...", use_lockfile = true } }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Deployment = var.name
      ManagedBy  = "terraform"
    }
  }
}
