// Replays a vector file of the Verilator bench (rtl_bench --write-vectors, format in
// rtl/bench/vector_file.hpp) on neuron_core in any Verilog simulator (Icarus Verilog here, and
// the gate-level netlist of rtl/portable/synth.sh) and compares every cycle with what the C++
// reference expects: cmd_ready and idle before each rising edge, the output beat after it.
//   iverilog -g2012 -P vectors_tb.AXONS=16 ... rtl/portable/vectors_tb.sv rtl/*.sv
//   vvp a.out +vectors=small.vec
// Prints "vectors_tb: PASS, N cycles, B output beats checked" or the first mismatches and
// "vectors_tb: FAIL", and ends with $finish either way.
`timescale 1ns / 1ps
`default_nettype none

module vectors_tb #(
    parameter int AXONS   = 16,
    parameter int NEURONS = 8,
    parameter int LANES   = 4,
    parameter int W_W     = 8,
    parameter int ACT_W   = 8,
    parameter int ACC_W   = 32,
    parameter int MEM_W   = 16,
    localparam int GROUPS = NEURONS / LANES,
    localparam int G_W    = GROUPS > 1 ? $clog2(GROUPS) : 1,
    localparam int AX_W   = AXONS > 1 ? $clog2(AXONS) : 1,
    localparam int N_W    = NEURONS > 1 ? $clog2(NEURONS) : 1,
    localparam int PAR_W  = 3 * MEM_W + 31
);
    logic                   clk = 1'b0, rst_n = 1'b0;
    logic                   cmd_valid = 1'b0, cmd_tick = 1'b0, cmd_psum = 1'b0;
    logic [AX_W-1:0]        cmd_axon = '0;
    logic [1:0]             cmd_kind = '0;
    logic [ACT_W-1:0]       cmd_value = '0;
    logic [N_W-1:0]         cmd_neuron = '0;
    logic [ACC_W-1:0]       cmd_psum_value = '0;
    logic                   wr_en = 1'b0, mul_wr_en = 1'b0;
    logic [AX_W-1:0]        wr_axon = '0;
    logic [G_W-1:0]         wr_group = '0;
    logic [LANES*W_W-1:0]   wr_weights = '0;
    logic [N_W-1:0]         mul_wr_neuron = '0;
    logic [31:0]            mul_wr_mantissa = '0;
    logic [7:0]             mul_wr_shift = '0;
    logic                   par_rst_n = 1'b0, par_wr_en = 1'b0;
    logic [N_W-1:0]         par_wr_neuron = '0;
    logic [PAR_W-1:0]       par_wr_data = '0;
    wire                    cmd_ready, out_valid, out_last, out_readout, idle;
    wire [G_W-1:0]          out_group;
    wire [LANES-1:0]        out_spikes;
    wire [LANES*MEM_W-1:0]  out_membrane;
    wire [LANES*ACC_W-1:0]  out_acc;

`ifdef VECTORS_TB_NETLIST
    neuron_core dut (  // a synthesized netlist: the parameters are built in
`else
    neuron_core #(.AXONS(AXONS), .NEURONS(NEURONS), .LANES(LANES), .W_W(W_W), .ACT_W(ACT_W), .ACC_W(ACC_W),
                  .MEM_W(MEM_W)) dut (
`endif
        .clk, .rst_n, .cmd_valid, .cmd_ready, .cmd_tick, .cmd_axon, .cmd_kind, .cmd_value, .cmd_psum, .cmd_neuron,
        .cmd_psum_value, .wr_en, .wr_axon, .wr_group, .wr_weights, .mul_wr_en, .mul_wr_neuron, .mul_wr_mantissa,
        .mul_wr_shift, .par_rst_n, .par_wr_en, .par_wr_neuron, .par_wr_data, .out_valid, .out_last, .out_group, .out_spikes, .out_membrane, .out_readout, .out_acc, .idle);

    // Expected values of one cycle.
    logic                   e_ready, e_idle, e_valid, e_readout;
    logic [G_W-1:0]         e_group;
    logic [LANES-1:0]       e_spikes;
    logic [LANES*MEM_W-1:0] e_membrane;
    logic [LANES*ACC_W-1:0] e_acc;

    integer fd, fields, cycles = 0, beats = 0, mismatches = 0;
    string  path;

    task automatic mismatch(input string what);
        mismatches = mismatches + 1;
        if (mismatches <= 10) $display("vectors_tb: MISMATCH cycle %0d: %s", cycles, what);
    endtask

    // One rising and one falling edge, as the Verilator bench clocks (rtl/bench/port_bits.hpp).
    task automatic edge_pair;
        #1 clk = 1'b1;
        #1 clk = 1'b0;
    endtask

    initial begin
        if (!$value$plusargs("vectors=%s", path)) begin
            $display("vectors_tb: FAIL, no +vectors=FILE");
            $finish;
        end
        fd = $fopen(path, "r");
        if (fd == 0) begin
            $display("vectors_tb: FAIL, cannot open %s", path);
            $finish;
        end
        // Power on as the bench does: every input low, both resets held for two edges.
        edge_pair;
        edge_pair;
        fields = 29;
        while (fields == 29) begin
            fields = $fscanf(fd, "%h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h %h\n",
                             rst_n, cmd_valid, cmd_tick, cmd_axon, cmd_kind, cmd_value, cmd_psum, cmd_neuron,
                             cmd_psum_value, wr_en, wr_axon, wr_group, wr_weights, mul_wr_en, mul_wr_neuron,
                             mul_wr_mantissa, mul_wr_shift, par_rst_n, par_wr_en, par_wr_neuron, par_wr_data,
                             e_ready, e_idle, e_valid, e_group, e_readout, e_spikes, e_membrane, e_acc);
            if (fields == 29) begin
            #1;  // combinational outputs settle with this cycle's inputs
            if (cmd_ready !== e_ready) mismatch($sformatf("cmd_ready=%b expected %b", cmd_ready, e_ready));
            if (idle !== e_idle) mismatch($sformatf("idle=%b expected %b", idle, e_idle));
            clk = 1'b1;
            #1;
            if (out_valid !== e_valid) begin
                mismatch($sformatf("out_valid=%b expected %b", out_valid, e_valid));
            end else if (e_valid) begin
                beats = beats + 1;
                if (out_group !== e_group) mismatch($sformatf("out_group=%0d expected %0d", out_group, e_group));
                if (out_last !== (e_group == G_W'(GROUPS - 1))) mismatch("out_last");
                if (out_readout !== e_readout) mismatch($sformatf("out_readout=%b expected %b", out_readout, e_readout));
                if (out_spikes !== e_spikes) mismatch($sformatf("out_spikes=%h expected %h", out_spikes, e_spikes));
                if (out_membrane !== e_membrane)
                    mismatch($sformatf("out_membrane=%h expected %h", out_membrane, e_membrane));
                if (e_readout && out_acc !== e_acc) mismatch($sformatf("out_acc=%h expected %h", out_acc, e_acc));
            end
            clk = 1'b0;
            cycles = cycles + 1;
            end
        end
        if (fields != -1) begin
            $display("vectors_tb: FAIL, malformed line %0d of %s (%0d fields)", cycles + 1, path, fields);
        end else if (mismatches != 0 || cycles == 0) begin
            $display("vectors_tb: FAIL, %0d mismatches in %0d cycles", mismatches, cycles);
        end else begin
            $display("vectors_tb: PASS, %0d cycles, %0d output beats checked", cycles, beats);
        end
        $finish;
    end
endmodule

`default_nettype wire
