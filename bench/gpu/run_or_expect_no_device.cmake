# ctest case gpu_bench_runs_or_reports_no_device: runs spiketile_gpu_bench (-DBENCH) briefly,
# writing -DOUT. Where no CUDA device can be used it must exit with status 3 and say why on one
# line starting "no CUDA device: "; where one can, the short run must pass every check and write
# its file.
if(NOT BENCH OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DBENCH=spiketile_gpu_bench -DOUT=file.json -P run_or_expect_no_device.cmake")
endif()
file(REMOVE "${OUT}")
execute_process(
  COMMAND "${BENCH}" --batch 1,3 --precision fp16,bf16,int8 --variant stream,graph --check-tokens 4
          --seconds 0.2 --warmup-seconds 0.05 --idle-seconds 0.5 --json "${OUT}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(status EQUAL 3)
  if(NOT err MATCHES "^no CUDA device: [^\n]+\n$")
    message(FATAL_ERROR "exit status 3 but not the one-line 'no CUDA device: ...' message:\n${err}")
  endif()
  if(EXISTS "${OUT}")
    message(FATAL_ERROR "no device, yet ${OUT} was written")
  endif()
  message(STATUS "as expected without a GPU: ${err}")
elseif(status EQUAL 0)
  if(NOT EXISTS "${OUT}")
    message(FATAL_ERROR "the run succeeded but wrote no ${OUT}:\n${out}\n${err}")
  endif()
  file(READ "${OUT}" measured)
  if(NOT measured MATCHES "\"format\": \"spiketile-gpu-measured-1\"")
    message(FATAL_ERROR "${OUT} is not a spiketile-gpu-measured-1 file")
  endif()
  message(STATUS "measured on a GPU:\n${out}")
else()
  message(FATAL_ERROR "spiketile_gpu_bench exited with status ${status}:\n${out}\n${err}")
endif()
