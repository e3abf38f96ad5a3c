# How the thumbnailer is deployed; the tests read its configuration from here.

resource "huaweicloud_fgs_function" "thumbnailer" {
  name                = "thumbnailer"
  app                 = "default"
  runtime             = "Python3.10"
  handler             = "index.handler"
  initializer_handler = "index.init"
  initializer_timeout = 10
  timeout             = 30
  memory_size         = 256
  code_type           = "zip"
  code_filename       = "function.zip"
  max_instance_num    = 1
}

# OBS invokes the function asynchronously: failures are retried twice, then reported to SMN.
resource "huaweicloud_fgs_async_invoke_configuration" "thumbnailer" {
  function_urn                   = huaweicloud_fgs_function.thumbnailer.urn
  max_async_event_age_in_seconds = 3600
  max_async_retry_attempts       = 2

  on_failure {
    destination = "SMN"
    param       = jsonencode({ topic_urn = "urn:smn:cn-north-4:0123456789abcdef:thumbnail-failed" })
  }
}
