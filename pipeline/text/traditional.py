"""Traditional characters read as their simplified forms, one character for one (so that every
offset stays), before personal data is searched (:func:`pipeline.text.redact.find_pii`).

Volunteers and respondents from Hong Kong, Taiwan or abroad type traditional characters, and an
input method left on traditional writes a note half in one script (馬建華, 楊阿姨, 大武口區長勝街道
朝陽小區7號樓2單元301). The rules and lists of the detector are simplified; the text is folded
for the search only, and the spans are cut from the text as written. The table holds the
traditional characters of common surnames and given names, of addresses and of everyday words
near them, each with exactly one simplified form; characters that are also simplified characters
of another word (乾, 著, 於, 隻 ...) are left out.
"""
from __future__ import annotations

TRADITIONAL = (
    "馬楊孫陳張劉黃趙吳鄭謝韓馮蕭鄧許蘇盧葉賈羅錢湯龔龍萬顧賴鄒閆閻喬譚陸鍾蔣韋鄔聶齊鳳紀龐嚴樂鮑費華賀溫顏歐陽諸單藍莊魯買納"
    "鎖達穌軍國偉強東麗紅義蘭雲飛鵬鳴濤傑寶貴愛慶輝鋒傳豔艷靜穎蓮廣興勝榮進順祿壽財貞綠純學維長彥暉瑩瑋銀嬌瓊潔聰誠運億聖寧滿"
    "倉區號樓門縣鎮鄉園廠館場處辦會電話說説這個們時來對過還後裡裏麼問題線開關頭車見覺聽歲歷兒爺媽嗎給讓幫從與歡鄰訪談記錄證碼"
    "機員務業戶稱職網絡賣發語書紙條寫讀認識應該經濟體簡幾點醫師診藥護輛選舉熱鬧舊難親聯係漢陝內雜貨鋪舖廳飯麵燒喫養殺輕邊遠層"
    "棟衛級術專總結婦黨團計劃議調報紹續閱鮮魚雞鴨鵝豬鳥島嶺灣濱溝壩廟實際現樣變動聲響歸鐵鋼銅盤錯兩塊價臺氣陰風燈陣彎爾爲為無"
    "腦臉腳顯類願謙請論訂誤誰課壓屬產畢簽標權檢橋樹極構欄檔態懷憶戰擊擔據數斷間閉闆闊隊階隨險雙離靈須頁項預領頻額飲飽驗驚鬥麥"
    "齡備傷債儀儲冊剛創劇勞勵嘆噴圍圖執堅墳壞奪奮將導屆幣幹庫廢彈復徵恆惡悶慣憑擴攤敵斃"
)
SIMPLIFIED = (
    "马杨孙陈张刘黄赵吴郑谢韩冯萧邓许苏卢叶贾罗钱汤龚龙万顾赖邹闫阎乔谭陆钟蒋韦邬聂齐凤纪庞严乐鲍费华贺温颜欧阳诸单蓝庄鲁买纳"
    "锁达稣军国伟强东丽红义兰云飞鹏鸣涛杰宝贵爱庆辉锋传艳艳静颖莲广兴胜荣进顺禄寿财贞绿纯学维长彦晖莹玮银娇琼洁聪诚运亿圣宁满"
    "仓区号楼门县镇乡园厂馆场处办会电话说说这个们时来对过还后里里么问题线开关头车见觉听岁历儿爷妈吗给让帮从与欢邻访谈记录证码"
    "机员务业户称职网络卖发语书纸条写读认识应该经济体简几点医师诊药护辆选举热闹旧难亲联系汉陕内杂货铺铺厅饭面烧吃养杀轻边远层"
    "栋卫级术专总结妇党团计划议调报绍续阅鲜鱼鸡鸭鹅猪鸟岛岭湾滨沟坝庙实际现样变动声响归铁钢铜盘错两块价台气阴风灯阵弯尔为为无"
    "脑脸脚显类愿谦请论订误谁课压属产毕签标权检桥树极构栏档态怀忆战击担据数断间闭板阔队阶随险双离灵须页项预领频额饮饱验惊斗麦"
    "龄备伤债仪储册刚创剧劳励叹喷围图执坚坟坏夺奋将导届币干库废弹复征恒恶闷惯凭扩摊敌毙"
)
FOLD = str.maketrans(TRADITIONAL, SIMPLIFIED)


def simplified(text: str) -> str:
    """``text`` with the table's traditional characters replaced by their simplified forms."""
    return text.translate(FOLD)


def simplified_tokens(text: str, folded: str, tokens: list[str]) -> list[str]:
    """The tokens of ``text`` (``folded`` is ``simplified(text)``) read as :func:`simplified` reads
    them: the same tokens when ``text`` has no traditional character of the table and the tokens
    are its pieces (one test of the whole text, not one translation per token: most transcripts
    have none), else each token folded."""
    if folded == text and "".join(tokens) == text:
        return list(tokens)
    return [simplified(t) for t in tokens]
