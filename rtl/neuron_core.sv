// Neurosynaptic core datapath: axon events -> crossbar row read -> synaptic accumulation ->
// (token tick) requantization -> neuron update -> spikes. Neurons are processed LANES at a time: one lane
// group of one command per cycle, GROUPS = NEURONS / LANES cycles per command, back to back.
//
// Pipeline (one beat = one lane group of one command):
//   S0  issue: synapse memory read (event) or multiplier table read (tick)
//   S1  event: acc[group] += synaptic op        tick: read + clear acc[group], multiply
//   S2  tick: round and saturate (requantizer); neuron parameter table read
//   S3  tick: neuron update (the general neuron of docs/numerics.md §4.8a, with the neuron's
//       parameters; SpikeGPT's LIF unless the table was written), state write-back
//   out tick: spikes + membranes of the group, 4 cycles after the beat issued
// A partial-sum command is one beat (its neuron's group); a readout tick carries the group's
// accumulators down the same stages instead of updating the membranes.
// Every beat of every command passes every stage in order, so a tick sees all earlier events
// and the next token's events never touch an accumulator before the tick has read it.
//
// Command port (valid/ready), one command per handshake:
//   cmd_tick=1            token tick; cmd_kind selects the neuron function: 0 neuron update
//                         (requantize, neuron, spikes), 1 readout (raw accumulators out, state
//                         untouched)
//   cmd_psum=1            partial sum: acc[cmd_neuron] += cmd_psum_value (ACC_W, signed,
//                         saturating), the reduction input of a tile split across crossbars
//   otherwise             axon event with cmd_kind 0 binary, 1 graded signed, 2 graded unsigned,
//                         3 bit-serial (cmd_value[ACT_W-1] = sign, low bits = bit position)
// Weight, multiplier and neuron parameter writes, and the parameter table's reset par_rst_n, are
// for an idle core (idle=1). cmd_ready is low while rst_n is: a command presented during reset is
// not taken. rst_n clears the neuron state (membranes, currents), accumulators and pipeline;
// weights, multipliers and neuron parameters are configuration and stay.
//
// Fault injection for the bench's mutation check is not part of this design: each injected bug is
// an `ifdef SPIKETILE_MUTANT_<k>` alternative that only the bench's mutant models define
// (rtl/CMakeLists.txt; the table is in rtl/README.md).
`default_nettype none

module neuron_core #(
    parameter int AXONS   = 256,
    parameter int NEURONS = 256,
    parameter int LANES   = 32,
    parameter int W_W     = 8,     // weight bits (signed)
    parameter int ACT_W   = 8,     // graded event payload bits
    parameter int ACC_W   = 32,
    parameter int MEM_W   = 16,    // input current, membrane and synaptic current bits, Q.8
    parameter int MANT_W  = 32,    // q::Multiplier mantissa
    parameter int SHIFT_W = 8,     // q::Multiplier shift, signed
    localparam int GROUPS = NEURONS / LANES,
    localparam int G_W    = GROUPS > 1 ? $clog2(GROUPS) : 1,
    localparam int AX_W   = AXONS > 1 ? $clog2(AXONS) : 1,
    localparam int N_W    = NEURONS > 1 ? $clog2(NEURONS) : 1,
    localparam int WA_W   = AXONS * GROUPS > 1 ? $clog2(AXONS * GROUPS) : 1,
    localparam int PAR_W  = 3 * MEM_W + 31   // one neuron's parameters (neuron_param_table.sv)
) (
    input  logic                   clk,
    input  logic                   rst_n,          // synchronous: membranes, accumulators, pipeline

    input  logic                   cmd_valid,
    output logic                   cmd_ready,
    input  logic                   cmd_tick,
    input  logic [AX_W-1:0]        cmd_axon,
    input  logic [1:0]             cmd_kind,
    input  logic [ACT_W-1:0]       cmd_value,
    input  logic                   cmd_psum,
    input  logic [N_W-1:0]         cmd_neuron,
    input  logic [ACC_W-1:0]       cmd_psum_value,

    // Synapse memory write: LANES weights of row wr_axon, neurons wr_group * LANES + [0, LANES).
    input  logic                   wr_en,
    input  logic [AX_W-1:0]        wr_axon,
    input  logic [G_W-1:0]         wr_group,
    input  logic [LANES*W_W-1:0]   wr_weights,

    input  logic                   mul_wr_en,
    input  logic [N_W-1:0]         mul_wr_neuron,
    input  logic [MANT_W-1:0]      mul_wr_mantissa,
    input  logic [SHIFT_W-1:0]     mul_wr_shift,

    // Neuron parameter table: one neuron's packed parameters (layout in neuron_param_table.sv).
    input  logic                   par_rst_n,      // synchronous: every neuron back to SpikeGPT's LIF
    input  logic                   par_wr_en,
    input  logic [N_W-1:0]         par_wr_neuron,
    input  logic [PAR_W-1:0]       par_wr_data,

    output logic                   out_valid,
    output logic                   out_last,       // last group of the tick
    output logic [G_W-1:0]         out_group,
    output logic [LANES-1:0]       out_spikes,
    output logic [LANES*MEM_W-1:0] out_membrane,
    output logic                   out_readout,    // the beat is a readout: out_acc valid, no spikes
    output logic [LANES*ACC_W-1:0] out_acc,

    output logic                   idle            // no command in flight
);
    // Elaboration-time checks: configurations the datapath's widths do not cover. Icarus Verilog
    // 11 cannot parse elaboration system tasks, so there they run at time 0 instead.
    localparam bit BAD_LANES    = NEURONS % LANES != 0;
    localparam bit BAD_MEMBRANE = MEM_W < 10;
    localparam bit BAD_ACC      = ACC_W < W_W + (1 << (ACT_W > 1 ? $clog2(ACT_W) : 1)) + 1;
`ifdef __ICARUS__
    initial begin
        if (BAD_LANES) $fatal(1, "neuron_core: NEURONS (%0d) must be a multiple of LANES (%0d)", NEURONS, LANES);
        if (BAD_MEMBRANE) $fatal(1, "neuron_core: MEM_W (%0d) cannot hold the threshold 256 (Q.8)", MEM_W);
        if (BAD_ACC) $fatal(1, "neuron_core: ACC_W (%0d) must hold one synaptic term (accumulator_array TERM_W)", ACC_W);
    end
`else
    if (BAD_LANES) begin : g_bad_lanes
        $error("neuron_core: NEURONS (%0d) must be a multiple of LANES (%0d)", NEURONS, LANES);
    end
    if (BAD_MEMBRANE) begin : g_bad_membrane
        $error("neuron_core: MEM_W (%0d) cannot hold the threshold 256 (Q.8)", MEM_W);
    end
    if (BAD_ACC) begin : g_bad_acc
        $error("neuron_core: ACC_W (%0d) must hold one synaptic term (accumulator_array TERM_W)", ACC_W);
    end
`endif

    // ---- S0: command issue ---------------------------------------------------------------
    logic              busy;
    logic [G_W-1:0]    beat;
    logic              cur_tick;
    logic [AX_W-1:0]   cur_axon;
    logic [1:0]        cur_kind;
    logic [ACT_W-1:0]  cur_value;
    logic              cur_psum;
    logic [ACC_W-1:0]  cur_psum_value;
    localparam int L_W = LANES > 1 ? $clog2(LANES) : 1;
    logic [L_W-1:0]    cur_psum_lane;
    logic              last_beat;

    localparam logic [1:0] TICK_READOUT = 2'd1;
    // The partial sum's neuron as lane group and lane (32-bit division: LANES may equal NEURONS).
    logic [G_W-1:0] psum_group;
    logic [L_W-1:0] psum_lane;
    assign psum_group = G_W'(32'(cmd_neuron) / 32'(LANES));
    assign psum_lane  = L_W'(32'(cmd_neuron) % 32'(LANES));

    // A partial sum is a single beat: its group's.
    assign last_beat = cur_psum || beat == G_W'(GROUPS - 1);
    // Accepting on the last beat keeps the issue stage busy every cycle under back-to-back commands.
    assign cmd_ready = rst_n && (!busy || last_beat);

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            busy <= 1'b0;
            beat <= '0;
        end else if (cmd_valid && cmd_ready) begin
            busy           <= 1'b1;
            cur_tick       <= cmd_tick;
            cur_psum       <= cmd_psum && !cmd_tick;
            beat           <= (cmd_psum && !cmd_tick) ? psum_group : '0;
            cur_axon       <= cmd_axon;
            cur_kind       <= cmd_kind;
            cur_value      <= cmd_value;
            cur_psum_value <= cmd_psum_value;
            cur_psum_lane  <= psum_lane;
        end else if (busy) begin
            if (last_beat) busy <= 1'b0;
            else beat <= beat + 1'b1;
        end
    end

    logic [LANES*W_W-1:0] row_weights;
    synapse_memory #(.AXONS(AXONS), .GROUPS(GROUPS), .WORD_W(LANES * W_W)) u_synapses (
        .clk     (clk),
        .wr_en   (wr_en),
        .wr_addr (WA_W'(wr_axon) * WA_W'(GROUPS) + WA_W'(wr_group)),
        .wr_data (wr_weights),
        .rd_en   (busy && !cur_tick && !cur_psum),
        .rd_addr (WA_W'(cur_axon) * WA_W'(GROUPS) + WA_W'(beat)),
        .rd_data (row_weights)
    );

    logic [LANES*MANT_W-1:0]  mantissas;
    logic [LANES*SHIFT_W-1:0] shifts;
    multiplier_table #(.NEURONS(NEURONS), .LANES(LANES), .MANT_W(MANT_W), .SHIFT_W(SHIFT_W)) u_multipliers (
        .clk         (clk),
        .wr_en       (mul_wr_en),
        .wr_neuron   (mul_wr_neuron),
        .wr_mantissa (mul_wr_mantissa),
        .wr_shift    (mul_wr_shift),
        .rd_en       (busy && cur_tick),
        .rd_group    (beat),
        .rd_mantissa (mantissas),
        .rd_shift    (shifts)
    );

    // ---- S1: accumulate, or read + clear and multiply --------------------------------------
    logic              s1_valid, s1_tick;
    logic [G_W-1:0]    s1_group;
    logic [1:0]        s1_kind;
    logic [ACT_W-1:0]  s1_value;
    logic              s1_psum;
    logic [ACC_W-1:0]  s1_psum_value;
    logic [L_W-1:0]    s1_psum_lane;
    always_ff @(posedge clk) begin
        if (!rst_n) s1_valid <= 1'b0;
        else        s1_valid <= busy;
        s1_tick       <= cur_tick;
        s1_group      <= beat;
        s1_kind       <= cur_kind;
        s1_value      <= cur_value;
        s1_psum       <= cur_psum;
        s1_psum_value <= cur_psum_value;
        s1_psum_lane  <= cur_psum_lane;
    end
    logic s1_readout;
    assign s1_readout = s1_tick && s1_kind == TICK_READOUT;
    logic s1_clear;
`ifdef SPIKETILE_MUTANT_8
    assign s1_clear = s1_valid && s1_tick && !s1_readout;  // a readout leaves the accumulators
`else
    assign s1_clear = s1_valid && s1_tick;
`endif

    // S2 and S3 state, declared here because the requantizers below take s2_valid.
    logic                   s2_valid, s3_valid, s2_readout, s3_readout;
    logic [G_W-1:0]         s2_group, s3_group;
    logic [LANES*ACC_W-1:0] s2_acc, s3_acc;

    logic [LANES*ACC_W-1:0] group_acc;
    accumulator_array #(.NEURONS(NEURONS), .LANES(LANES), .W_W(W_W), .ACT_W(ACT_W), .ACC_W(ACC_W)) u_accumulators (
        .clk      (clk),
        .rst_n    (rst_n),
        .acc_en   (s1_valid && !s1_tick),
        .clear_en (s1_clear),
        .group    (s1_group),
        .kind     (s1_kind),
        .value    (s1_value),
        .weights  (row_weights),
        .psum_en    (s1_psum),
        .psum_lane  (s1_psum_lane),
        .psum_value (s1_psum_value),
        .rd_acc   (group_acc)
    );

    logic [LANES*MEM_W-1:0] currents;
    for (genvar l = 0; l < LANES; l++) begin : g_lane
        requantizer #(.ACC_W(ACC_W), .MANT_W(MANT_W), .SHIFT_W(SHIFT_W), .OUT_W(MEM_W)) u_requantizer (
            .clk      (clk),
            .en_mul   (s1_valid && s1_tick),
            .en_round (s2_valid),
            .acc      (group_acc[l*ACC_W +: ACC_W]),
            .mantissa (mantissas[l*MANT_W +: MANT_W]),
            .shift    (shifts[l*SHIFT_W +: SHIFT_W]),
            .current  (currents[l*MEM_W +: MEM_W])
        );
    end

    // ---- S2, S3: requantizer stages; the neuron unit consumes S3 --------------------------------
    // A readout beat carries its accumulators alongside, so it leaves in tick order.
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            s2_valid <= 1'b0;
            s3_valid <= 1'b0;
        end else begin
            s2_valid <= s1_valid && s1_tick;
            s3_valid <= s2_valid;
        end
        s2_group   <= s1_group;
        s3_group   <= s2_group;
        s2_readout <= s1_readout;
        s3_readout <= s2_readout;
        s2_acc     <= group_acc;
        s3_acc     <= s2_acc;
        if (s3_valid) begin
            out_readout <= s3_readout;
            out_acc     <= s3_acc;
        end
    end

    // The parameters are read in S2, where the beat's group is known, so they arrive in S3 with
    // its current: no delay line, and writes only happen while the core is idle.
    localparam int RATE_W = 13;
    logic [LANES*RATE_W-1:0] par_dv, par_di;
    logic [LANES-1:0]        par_current_stage, par_leak, par_fire_ge;
    logic [LANES*2-1:0]      par_reset_mode;
    logic [LANES*MEM_W-1:0]  par_bias, par_theta, par_v_reset;
    neuron_param_table #(.NEURONS(NEURONS), .LANES(LANES), .MEM_W(MEM_W)) u_neuron_params (
        .clk           (clk),
        .rst_n         (par_rst_n),
        .wr_en         (par_wr_en),
        .wr_neuron     (par_wr_neuron),
        .wr_data       (par_wr_data),
        .rd_en         (s2_valid),
        .rd_group      (s2_group),
        .rd_dv         (par_dv),
        .rd_di         (par_di),
        .rd_current    (par_current_stage),
        .rd_leak       (par_leak),
        .rd_fire_ge    (par_fire_ge),
        .rd_reset_mode (par_reset_mode),
        .rd_bias       (par_bias),
        .rd_theta      (par_theta),
        .rd_v_reset    (par_v_reset)
    );

    neuron_unit #(.NEURONS(NEURONS), .LANES(LANES), .MEM_W(MEM_W)) u_neurons (
        .clk              (clk),
        .rst_n            (rst_n),
        .in_valid         (s3_valid),
        .in_hold          (s3_readout),
        .in_group         (s3_group),
        .in_current       (currents),
        .in_dv            (par_dv),
        .in_di            (par_di),
        .in_current_stage (par_current_stage),
        .in_leak          (par_leak),
        .in_fire_ge       (par_fire_ge),
        .in_reset_mode    (par_reset_mode),
        .in_bias          (par_bias),
        .in_theta         (par_theta),
        .in_v_reset       (par_v_reset),
        .out_valid        (out_valid),
        .out_group        (out_group),
        .out_spikes       (out_spikes),
        .out_membrane     (out_membrane)
    );

    assign out_last = out_group == G_W'(GROUPS - 1);
    assign idle = !busy && !s1_valid && !s2_valid && !s3_valid && !out_valid;

`ifndef SYNTHESIS
    // The port contract, checked every cycle where the simulator runs assertions (Verilator's
    // --assert: the bench's production models). A tick's beats leave in group order, 0 first.
    logic [G_W-1:0] next_out_group;
    always_ff @(posedge clk) begin
        if (!rst_n) next_out_group <= '0;
        else if (out_valid) next_out_group <= out_last ? '0 : out_group + 1'b1;
    end
    always @(posedge clk) begin  // a checker, not a flop: plain always
        assert (rst_n || !(cmd_valid && cmd_ready))
            else $error("neuron_core: a command was accepted during reset");
        if (rst_n) begin
            assert (!wr_en || idle) else $error("neuron_core: synapse write while the core is busy");
            assert (!mul_wr_en || idle) else $error("neuron_core: multiplier write while the core is busy");
            assert (!par_wr_en || idle) else $error("neuron_core: neuron parameter write while the core is busy");
            assert (par_rst_n || idle) else $error("neuron_core: neuron parameter reset while the core is busy");
            assert (!(cmd_valid && cmd_ready && cmd_tick && cmd_kind > TICK_READOUT))
                else $error("neuron_core: tick kind %0d (only 0 neuron update and 1 readout exist)", cmd_kind);
            assert (!out_valid || out_group == next_out_group)
                else $error("neuron_core: output beat of group %0d, expected group %0d", out_group, next_out_group);
        end
    end
`endif
endmodule

`default_nettype wire
