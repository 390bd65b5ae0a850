import MemprofReport
import Testing

/// The fixture's JSON report byte for byte, in `JSONEncoder`'s layout, as the encoder
/// wrote it before the renderer wrote JSON itself; the leak members added since
/// (`by_kind`, `counted_kinds`, `suppressed`, `counted`) follow the same layout
/// (`TextReportRendererTests` holds the text golden). Any change here is a change of the
/// output contract.
@Suite("JSONReportRenderer golden")
struct JSONReportRendererGoldenTests {
    @Test("the fixture's report, byte for byte")
    func fixture() throws {
        #expect(try JSONReportRenderer(top: 10).render(Fixture.report()) == Self.json)
    }

    static let json = #"""
        {
          "allocations" : {
            "allocation_rate_per_second" : 46.4,
            "average_allocation_size" : 79.448,
            "max_allocation_size" : 1000,
            "median_allocation_size" : 32,
            "min_allocation_size" : 16,
            "site_count" : 3,
            "temporary_allocations" : 52,
            "top_allocators" : [
              {
                "allocation_count" : 15,
                "average_size" : 400,
                "deallocation_count" : 13,
                "leaked_blocks" : 2,
                "leaked_bytes" : 200,
                "location" : "make_buffer (leak.c:12)",
                "peak_bytes" : 1300,
                "percentage_of_total" : 65.104,
                "stack" : [
                  {
                    "address" : "0x100",
                    "file" : "/work/examples/leak.c",
                    "function" : "make_buffer",
                    "inlined" : false,
                    "line" : 12,
                    "module" : "/work/examples/leaky"
                  },
                  {
                    "address" : "0x300",
                    "file" : "/work/examples/leak.c",
                    "function" : "helper",
                    "inlined" : false,
                    "line" : 40,
                    "module" : "/work/examples/leaky"
                  },
                  {
                    "address" : "0x200",
                    "file" : "/work/examples/leak.c",
                    "function" : "main",
                    "inlined" : false,
                    "line" : 30,
                    "module" : "/work/examples/leaky"
                  },
                  {
                    "address" : "0x500",
                    "file" : null,
                    "function" : "__libc_start_call_main",
                    "inlined" : false,
                    "line" : null,
                    "module" : "/usr/lib/x86_64-linux-gnu/libc.so.6"
                  }
                ],
                "stack_count" : 2,
                "temporary_allocations" : 2,
                "total_bytes" : 6000
              },
              {
                "allocation_count" : 100,
                "average_size" : 32,
                "deallocation_count" : 100,
                "leaked_blocks" : 0,
                "leaked_bytes" : 0,
                "location" : "Parser::parse() (parser.cpp:88)",
                "peak_bytes" : 64,
                "percentage_of_total" : 34.722,
                "stack" : [
                  {
                    "address" : "0x400",
                    "file" : "/work/examples/parser.cpp",
                    "function" : "Parser::parse()",
                    "inlined" : false,
                    "line" : 88,
                    "module" : "/work/examples/leaky"
                  },
                  {
                    "address" : "0x200",
                    "file" : "/work/examples/leak.c",
                    "function" : "main",
                    "inlined" : false,
                    "line" : 30,
                    "module" : "/work/examples/leaky"
                  },
                  {
                    "address" : "0x500",
                    "file" : null,
                    "function" : "__libc_start_call_main",
                    "inlined" : false,
                    "line" : null,
                    "module" : "/usr/lib/x86_64-linux-gnu/libc.so.6"
                  }
                ],
                "stack_count" : 1,
                "temporary_allocations" : 50,
                "total_bytes" : 3200
              },
              {
                "allocation_count" : 1,
                "average_size" : 16,
                "deallocation_count" : 0,
                "leaked_blocks" : 1,
                "leaked_bytes" : 16,
                "location" : "<stack 4 not recorded>",
                "peak_bytes" : 0,
                "percentage_of_total" : 0.174,
                "stack" : [

                ],
                "stack_count" : 1,
                "temporary_allocations" : 0,
                "total_bytes" : 16
              }
            ],
            "total_allocations" : 116
          },
          "leaks" : {
            "by_kind" : {
              "definite" : {
                "blocks" : 0,
                "bytes" : 0
              },
              "indirect" : {
                "blocks" : 0,
                "bytes" : 0
              },
              "possible" : {
                "blocks" : 0,
                "bytes" : 0
              },
              "reachable" : {
                "blocks" : 0,
                "bytes" : 0
              },
              "unfreed" : {
                "blocks" : 3,
                "bytes" : 216
              }
            },
            "counted_kinds" : [
              "unfreed",
              "definite",
              "indirect",
              "possible"
            ],
            "leak_count" : 2,
            "leaked_blocks" : 3,
            "leaks" : [
              {
                "age_seconds" : null,
                "count" : 2,
                "counted" : true,
                "kind" : "unfreed",
                "location" : "make_buffer (leak.c:12)",
                "size" : 200,
                "stack" : [
                  {
                    "address" : "0x100",
                    "file" : "/work/examples/leak.c",
                    "function" : "make_buffer",
                    "inlined" : false,
                    "line" : 12,
                    "module" : "/work/examples/leaky"
                  },
                  {
                    "address" : "0x200",
                    "file" : "/work/examples/leak.c",
                    "function" : "main",
                    "inlined" : false,
                    "line" : 30,
                    "module" : "/work/examples/leaky"
                  },
                  {
                    "address" : "0x500",
                    "file" : null,
                    "function" : "__libc_start_call_main",
                    "inlined" : false,
                    "line" : null,
                    "module" : "/usr/lib/x86_64-linux-gnu/libc.so.6"
                  }
                ],
                "stack_count" : 1
              },
              {
                "age_seconds" : null,
                "count" : 1,
                "counted" : true,
                "kind" : "unfreed",
                "location" : "<stack 4 not recorded>",
                "size" : 16,
                "stack" : [

                ],
                "stack_count" : 1
              }
            ],
            "recorded" : true,
            "suppressed" : [

            ],
            "total_leaked_bytes" : 216
          },
          "module_problems" : [

          ],
          "process" : {
            "allocator_symbols" : null,
            "arguments" : [
              "./leaky",
              "3",
              "hello world"
            ],
            "command" : "./leaky 3 'hello world'",
            "executable" : "/work/examples/leaky",
            "memprof_version" : "0.1.0",
            "mode" : "full",
            "parent_pid" : 4200,
            "pid" : 4242,
            "start_unix_seconds" : 1700000000.5
          },
          "snapshot" : {
            "allocation_count" : 116,
            "current_usage" : 216,
            "deallocation_count" : 114,
            "duration_seconds" : 2.5,
            "leaked_blocks" : 3,
            "leaked_bytes" : 216,
            "peak_rss" : 8388608,
            "peak_time_seconds" : 1.5,
            "peak_usage" : 1364,
            "temporary_allocations" : 52,
            "thread_count" : 2,
            "total_allocated" : 9216,
            "total_deallocated" : 9000,
            "unknown_deallocations" : 1
          },
          "trace" : {
            "complete" : true,
            "duration_seconds" : 2.5,
            "end_signal" : null,
            "ended_by" : "exit",
            "live" : false,
            "path" : "leaky.mprof",
            "truncated" : false,
            "truncation_offset" : null,
            "truncation_reason" : null
          },
          "trend" : {
            "data_points" : [
              {
                "heap_bytes" : 100,
                "rss_bytes" : 4194304,
                "time_seconds" : 0.5
              },
              {
                "heap_bytes" : 1364,
                "rss_bytes" : 8388608,
                "time_seconds" : 1.5
              },
              {
                "heap_bytes" : 216,
                "rss_bytes" : 6291456,
                "time_seconds" : 2.5
              }
            ],
            "trend_analysis" : {
              "average_usage" : 560,
              "growth_rate" : 58,
              "min_usage" : 100,
              "peak_usage" : 1364,
              "sample_count" : 3,
              "volatility" : 570.483
            }
          }
        }
        """#
}
