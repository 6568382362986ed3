"""Name, place and number pools for synthetic people (data only, no logic).

Surname weights are per-mille shares of the population, rounded from the 2020 census
ranking (王 李 张 刘 陈 lead); rare and polyphonic surnames (曾 单 解 仇 区 查 盖 朴)
are kept on purpose because they break naive pinyin matching. Tables are written as
"name:weight" strings to stay compact; `weights()` parses them.
"""

from __future__ import annotations


def weights(table: str) -> dict[str, float]:
    """Parse "王:71 李:70" into {"王": 71.0, "李": 70.0}."""
    pairs = (item.split(":") for item in table.split())
    return {name: float(weight) for name, weight in pairs}


SURNAMES = weights("""
王:71 李:70 张:64 刘:53 陈:45 杨:31 黄:22 赵:20 吴:19 周:19 徐:15 孙:15 马:13 朱:12
胡:11 郭:11 何:11 林:10 高:10 罗:9 郑:9 梁:8 谢:7 宋:7 唐:7 许:6 韩:6 冯:6 邓:6
曹:6 彭:5 曾:5 肖:5 田:5 董:5 袁:4 潘:4 于:4 蒋:4 蔡:4 余:4 杜:4 叶:4 程:3 苏:3
魏:3 吕:3 丁:3 任:3 沈:3 姚:3 卢:3 姜:3 崔:3 钟:3 谭:3 陆:3 汪:3 范:3 金:3 石:3
廖:3 贾:3 夏:2 韦:2 付:2 方:2 白:2 邹:2 孟:2 熊:2 秦:2 邱:2 江:2 尹:2 薛:2 闫:2
段:2 雷:2 侯:2 龙:2 史:2 陶:2 黎:2 贺:2 顾:2 毛:2 郝:2 龚:2 邵:2 万:2 钱:2 严:2
覃:1 武:1 戴:1 莫:1 孔:1 向:1 汤:1 常:1 温:1 康:1 施:1 文:1 牛:1 樊:1 葛:1 邢:1
安:1 齐:1 易:1 乔:1 伍:1 庞:1 颜:1 倪:1 庄:1 聂:1 章:1 鲁:1 岳:1 翟:1 殷:1 詹:1
申:1 欧:1 耿:1 关:1 兰:1 焦:1 俞:1 左:1 柳:1 甘:1 祝:1 包:1 宁:1 尚:1 符:1 舒:1
阮:1 应:0.5 单:0.5 解:0.4 仇:0.3 区:0.3 查:0.3 盖:0.2 朴:0.3 冼:0.2 麦:0.3
欧阳:0.4 司马:0.05 诸葛:0.05 上官:0.05
""")

# Multipliers on the national weights, keyed by the 2-digit province prefix of the
# GB/T 2260 code: surnames much more (or less) common locally.
PROVINCE_SURNAMES: dict[str, dict[str, float]] = {
    "44": weights(
        "陈:2.5 黄:2.5 梁:3 何:2.5 罗:2 冯:2 麦:6 区:8 冼:8 钟:2 曾:2 黎:2.5 谭:2"
        " 王:0.5 张:0.7 刘:0.8 欧阳:2"
    ),
    "33": weights(
        "陈:2 林:2.5 金:3 叶:3 郑:2 应:6 胡:1.5 徐:1.5 吴:1.5 周:1.5 章:3 施:2 刘:0.6 张:0.8"
    ),
    "22": weights("王:1.3 李:1.2 刘:1.3 赵:1.5 孙:1.5 于:2.5 金:2 朴:8 陈:0.5 黄:0.4 姜:2 关:3"),
    "41": weights(
        "王:1.4 李:1.3 张:1.3 刘:1.2 郭:1.8 马:1.5 孙:1.2 黄:0.5 陈:0.8 梁:0.6 牛:3 申:2"
    ),
}

# Given-name characters by generation and sex. Older cohorts favour political and
# virtue names (建国 秀英), younger ones literary two-character names (子轩 梓涵).
# Each cohort: (last birth year, share of one-character names, male first characters,
# male second characters, female first, female second). One-character names use the
# second-character pool.
GIVEN_COHORTS: tuple[tuple[int, float, str, str, str, str], ...] = (
    (
        1955,
        0.25,
        "建国志德文玉永福长金宝继树兆春海振庆",
        "国华明民生林山才成祥发忠贵荣良军平安元",
        "秀桂玉淑凤翠素金美月兰春",
        "英兰珍芳华芬梅琴云花娥荣香",
    ),
    (
        1975,
        0.30,
        "建国卫红志海晓永小立东新文德",
        "军华平明强伟林东兵峰勇刚斌生",
        "丽秀红晓建美海春小玉",
        "华红霞萍燕芳玲英娟梅琴丽敏",
    ),
    (
        1995,
        0.35,
        "俊志晓文建海家伟振嘉子永",
        "杰鹏磊涛斌辉峰超宇亮勇龙波",
        "丽晓雪静佳美婷雅小海思",
        "婷娜燕敏丹颖倩琳莉慧洁玲婧",
    ),
    (
        2010,
        0.15,
        "子浩嘉俊宇博文天思家明",
        "轩豪杰宇涛鑫昊然航铭睿晨",
        "欣佳雨梦思诗雪可紫嘉晓",
        "怡涵琪婷雪悦馨颖瑶萱妍",
    ),
    (
        2100,
        0.08,
        "子浩宇沐奕梓一铭俊睿锦皓",
        "轩然宸辰睿航泽程恒煜安霖",
        "梓一若雨欣诗可梦依知语",
        "涵诺汐桐妍语馨瑶芸夏琪萱",
    ),
)

# Whole given names the oldest cohort often carries verbatim.
CLASSIC_NAMES: dict[str, tuple[str, ...]] = {
    "1": tuple("建国 国庆 建华 卫东 跃进 解放 援朝 德明 志强 福生".split()),
    "2": tuple("秀英 桂英 淑珍 玉兰 凤英 秀兰 桂兰 玉珍 翠花 素芬".split()),
}

ROAD_STEMS = tuple(
    "光明 兴业 建设 人民 解放 中山 环城 富华 新华 文明 永安 迎宾 育才 康乐 繁华"
    " 德兴 清河 西丽 桥东 大北 振兴 金山 东湖 滨江 和平 幸福 花园 学苑 青年 胜利".split()
)
ROAD_SUFFIXES = tuple("路 路 路 街 大道 东路 西路 北路 南路 中路".split())
VILLAGE_STEMS = tuple(
    "坑头 石岗 大岭 沙溪 新塘 罗家 东山 西岸 南浦 北坑 上林 下围 塘边 莲花 龙湾"
    " 凤岗 潭山 黄沙 水口 桥头".split()
)

# Mobile number prefixes of the three carriers (1[3-9]x).
MOBILE_PREFIXES = tuple(
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159"
    " 166 173 177 180 181 182 183 185 186 187 188 189 191 198 199".split()
)

# Long-distance area codes by GB/T 2260 prefix (longest prefix wins).
AREA_CODES: dict[str, str] = {
    "4401": "020",
    "3303": "0577",
    "3307": "0579",
    "2202": "0432",
    "4101": "0371",
}

# County-level names for the region codes the demo uses (address prefixes).
DISTRICT_NAMES: dict[str, str] = {
    "440113": "番禺区",
    "330784": "永康市",
    "410103": "二七区",
    "220204": "船营区",
    "220202": "昌邑区",
    "220200": "吉林市",
    "330326": "平阳县",
    "330327": "苍南县",
}

# Birthplaces of migrants living in the demo districts: GB/T 2260 county codes from the
# big sending provinces (Hunan, Guangxi, Jiangxi, Sichuan, Henan, Anhui, Hubei...).
MIGRANT_ORIGINS = tuple(
    "430521 430623 431102 450102 450881 360124 360731 510921 511323 411522 412726"
    " 341221 342201 440823 441402 445221 522101 420117 362430 510122 520203".split()
)

# Earlier GB/T 2260 codes of the same county, tried newest (last) first. An ID number
# keeps the code in force when it was issued, and the validator (python-stdnum) checks
# the code against the birth year, so older residents need the older code to look real
# and to validate.
CODE_HISTORY: dict[str, tuple[str, ...]] = {
    "440113": ("440126", "440181"),  # 番禺县 → 番禺市 (1992) → 番禺区 (2000)
    # 永康县 of 金华地区 → 永康县 (1985) → 永康市 (1992). 332422 goes first (tried last)
    # because before 1982 it was 永嘉县's code.
    "330784": ("332422", "332523", "330722"),
    "330326": ("332425",),  # 平阳县 of 温州地区 until 1981
    "330327": ("332425",),  # 苍南县 was split from 平阳县 in 1981
}
