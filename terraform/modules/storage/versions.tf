terraform {
  # 1.9 for validations that refer to other variables.
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.29 added the index's `key_schema`; later releases fixed a perpetual diff on an index with a
      # range key (hashicorp/terraform-provider-aws#46442) and index removal (#46602). 6.62 is the
      # schema this module is checked against (tests/terraform/test_provider_schema.py).
      version = ">= 6.62"
    }
  }
}
