int jcm_cli_placeholder2;
