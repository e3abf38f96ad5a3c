# How this function is deployed: the tests read its configuration from here
# (pytest.mark.fginit(config="main.tf")), so that they test what is deployed.

variable "pool_size" {
  type    = string
  default = "3"
}

resource "huaweicloud_fgs_function" "db_pool" {
  name                = "db-pool"
  app                 = "default"
  runtime             = "Python3.10"
  handler             = "index.handler"
  initializer_handler = "index.init"
  initializer_timeout = 10
  timeout             = 3
  memory_size         = 128
  code_type           = "zip"
  code_filename       = "function.zip"
  max_instance_num    = 10

  user_data = jsonencode({
    "POOL_SIZE" : var.pool_size,
    "DB_USER" : "app"
  })
  # DB_PASSWORD comes from a secret store in CI: the tests give it as encrypted_user_data.
}
