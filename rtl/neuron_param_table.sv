// The neuron parameter table: each neuron's configuration of the general neuron (docs/numerics.md
// §4.8a), written one neuron at a time and read one lane group per cycle with a registered
// output, like the multiplier table. It is configuration, not state: rst_n (the membranes' reset,
// also between sequences) leaves it alone; its own reset, par_rst_n, puts every neuron back to
// SpikeGPT's LIF, so a core whose table is never written behaves as before the table existed.
//
// One neuron's word (par_wr_data), LSB first. The table decodes it, so no other module depends on
// the layout; rtl/bench/stimulus.cpp (neuron_param_fields) writes the same one.
//   [12:0]              dv          dt/tau_mem, unsigned Q.12 in [0, 4096]
//   [25:13]             di          dt/tau_syn, unsigned Q.12 in [0, 4096]
//   [26]                current     current stage on (the membrane integrates the previous i)
//   [27]                leak        the membrane leaks toward bias (0: pure integrator)
//   [28]                fire_ge     fires at v >= theta (0: at v > theta)
//   [30:29]             reset_mode  0 to v_reset, 1 subtract theta (saturating), 2 never spikes
//   [31 +: MEM_W]       bias        signed Q.8
//   [31+MEM_W +: MEM_W] theta       signed Q.8
//   [31+2MEM_W +: MEM_W] v_reset    signed Q.8
`default_nettype none

module neuron_param_table #(
    parameter int NEURONS = 256,
    parameter int LANES   = 32,
    parameter int MEM_W   = 16,
    localparam int RATE_W = 13,
    localparam int PAR_W  = 3 * MEM_W + 31,
    localparam int GROUPS = NEURONS / LANES,
    localparam int N_W    = NEURONS > 1 ? $clog2(NEURONS) : 1,
    localparam int G_W    = GROUPS > 1 ? $clog2(GROUPS) : 1
) (
    input  logic                    clk,
    input  logic                    rst_n,        // synchronous: every neuron back to SpikeGPT's LIF
    input  logic                    wr_en,
    input  logic [N_W-1:0]          wr_neuron,
    input  logic [PAR_W-1:0]        wr_data,
    input  logic                    rd_en,
    input  logic [G_W-1:0]          rd_group,
    output logic [LANES*RATE_W-1:0] rd_dv,
    output logic [LANES*RATE_W-1:0] rd_di,
    output logic [LANES-1:0]        rd_current,
    output logic [LANES-1:0]        rd_leak,
    output logic [LANES-1:0]        rd_fire_ge,
    output logic [LANES*2-1:0]      rd_reset_mode,
    output logic [LANES*MEM_W-1:0]  rd_bias,
    output logic [LANES*MEM_W-1:0]  rd_theta,
    output logic [LANES*MEM_W-1:0]  rd_v_reset
);
    localparam int DI_LSB = RATE_W, CURRENT_BIT = 2 * RATE_W, LEAK_BIT = CURRENT_BIT + 1,
                   FIRE_GE_BIT = CURRENT_BIT + 2, MODE_LSB = CURRENT_BIT + 3, BIAS_LSB = MODE_LSB + 2,
                   THETA_LSB = BIAS_LSB + MEM_W, V_RESET_LSB = THETA_LSB + MEM_W;
    // SpikeGPT's LIF: dv 0.5, di 1.0 (unused), no current stage, leak, fires at v >= 256, reset to 0.
    localparam logic [PAR_W-1:0] SPIKEGPT_LIF = {MEM_W'(0), MEM_W'(256), MEM_W'(0), 2'd0, 1'b1, 1'b1, 1'b0,
                                                 RATE_W'(4096), RATE_W'(2048)};

    // Word = one lane group, so a read is one row access, not LANES scattered ones.
    logic [LANES*PAR_W-1:0] mem [GROUPS];
    logic [LANES*PAR_W-1:0] word;

    // neuron = group * LANES + lane (32-bit division: LANES may equal NEURONS, see multiplier_table).
    logic [G_W-1:0] wr_group;
    logic [N_W-1:0] wr_lane;
    assign wr_group = G_W'(32'(wr_neuron) / 32'(LANES));
    assign wr_lane  = N_W'(32'(wr_neuron) % 32'(LANES));

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            for (int g = 0; g < GROUPS; g++) mem[g] <= {LANES{SPIKEGPT_LIF}};
        end else if (wr_en) begin
            for (int l = 0; l < LANES; l++)
                if (wr_lane == N_W'(l)) mem[wr_group][l*PAR_W +: PAR_W] <= wr_data;
        end
        if (rd_en) word <= mem[rd_group];
    end

    for (genvar l = 0; l < LANES; l++) begin : g_lane
        assign rd_dv[l*RATE_W +: RATE_W]    = word[l*PAR_W +: RATE_W];
        assign rd_di[l*RATE_W +: RATE_W]    = word[l*PAR_W + DI_LSB +: RATE_W];
        assign rd_current[l]                = word[l*PAR_W + CURRENT_BIT];
        assign rd_leak[l]                   = word[l*PAR_W + LEAK_BIT];
        assign rd_fire_ge[l]                = word[l*PAR_W + FIRE_GE_BIT];
        assign rd_reset_mode[l*2 +: 2]      = word[l*PAR_W + MODE_LSB +: 2];
        assign rd_bias[l*MEM_W +: MEM_W]    = word[l*PAR_W + BIAS_LSB +: MEM_W];
        assign rd_theta[l*MEM_W +: MEM_W]   = word[l*PAR_W + THETA_LSB +: MEM_W];
        assign rd_v_reset[l*MEM_W +: MEM_W] = word[l*PAR_W + V_RESET_LSB +: MEM_W];
    end

`ifndef SYNTHESIS
    // What the contract allows (q::NeuronParams::validation_error): rates up to 1.0, modes 0..2.
    logic [RATE_W-1:0] wr_dv, wr_di;
    logic [1:0]        wr_mode;
    assign wr_dv   = wr_data[0 +: RATE_W];
    assign wr_di   = wr_data[DI_LSB +: RATE_W];
    assign wr_mode = wr_data[MODE_LSB +: 2];
    always @(posedge clk) begin  // a checker, not a flop: plain always
        if (rst_n && wr_en) begin
            assert (wr_dv <= RATE_W'(4096) && wr_di <= RATE_W'(4096))
                else $error("neuron_param_table: neuron %0d written with dv %0d, di %0d (at most 4096 = 1.0)",
                            wr_neuron, wr_dv, wr_di);
            assert (wr_mode != 2'd3)
                else $error("neuron_param_table: neuron %0d written with reset_mode 3 (only 0, 1, 2 exist)", wr_neuron);
        end
    end
`endif
endmodule

`default_nettype wire
